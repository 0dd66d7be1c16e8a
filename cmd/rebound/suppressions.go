package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

const suppressionsUsage = `usage: rebound suppressions list [--json | --verbose] [--config FILE] [--db PATH-or-URL]
       rebound suppressions check ADDRESS [--config FILE] [--db PATH-or-URL]
       rebound suppressions add ADDRESS --reason TEXT [--expires DURATION] [--config FILE] [--db PATH-or-URL]
       rebound suppressions remove ADDRESS [--reason TEXT] [--config FILE] [--db PATH-or-URL]
       rebound suppressions export [--csv | --json] [--config FILE] [--db PATH-or-URL]

list prints the suppressed addresses, one per line (--verbose: with why;
--json: one object per line with cause, reason, times, evidence and the
evidence that were hard bounces with low confidence). check says whether
ADDRESS is suppressed and why, and lists the hard bounces with low
confidence behind it, or those that did not suppress it; it exits 0 when
ADDRESS is suppressed, 1 when it is not, 2 on error. add suppresses by hand
(cause manual), for DURATION (e.g. 90d, 12h) or for ever; remove lifts a
suppression and restarts the address's soft-bounce count. ADDRESS must be
a mail address (RFC 5321, RFC 6531): it is kept with its domain in lower
case (internationalized names as xn-- A-labels) and its local part in
lower case; one that starts with "-" goes after "--". export writes every suppression in force as CSV, every cell
quoted; a cell that a spreadsheet would take for a formula (one starting
with = + - @, a tab or a carriage return) starts with ' (--json gives the
values as they are).`

// runSuppressions implements "rebound suppressions": the suppression list
// of a store, read and changed by hand.
func runSuppressions(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, suppressionsUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("suppressions "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, suppressionsUsage)
		fmt.Fprintln(stderr, "\nflags of "+sub+":")
		fs.PrintDefaults()
	}
	cfgPath := configFlag(fs)
	db := dbFlag(fs)
	var (
		asJSON  *bool
		asCSV   *bool
		verbose *bool
		reason  *string
		expires *string
		nargs   int // positional arguments wanted
	)
	switch sub {
	case "list":
		asJSON = fs.Bool("json", false, "print JSON Lines, one suppression object per line")
		verbose = fs.Bool("verbose", false, "print why each address is suppressed beside it")
	case "check":
		nargs = 1
	case "remove":
		nargs = 1
		reason = fs.String("reason", "", "why the suppression is lifted (kept in the address's history)")
	case "add":
		nargs = 1
		reason = fs.String("reason", "", "why the address is suppressed (required)")
		expires = fs.String("expires", "", "lift the suppression after DURATION, e.g. 90d or 12h (default: never)")
	case "export":
		asCSV = fs.Bool("csv", true, "write CSV: address,cause,reason,since,expires,evidence")
		asJSON = fs.Bool("json", false, "write JSON Lines instead of CSV")
	default:
		fmt.Fprintf(stderr, "rebound suppressions: unknown subcommand %q\n\n%s\n", sub, suppressionsUsage)
		return 2
	}
	pos, stop, status := parseInterspersed(fs, args)
	if stop {
		return status
	}
	if len(pos) != nargs {
		if nargs == 0 {
			fmt.Fprintf(stderr, "rebound suppressions %s: unexpected argument %q\n", sub, pos[0])
		} else {
			fmt.Fprintf(stderr, "rebound suppressions %s: want one ADDRESS\n", sub)
		}
		return 2
	}
	var addr string
	if nargs == 1 {
		a, err := suppress.NormalizeAddress(pos[0])
		if err != nil {
			reason := err.Error()
			var e *mailaddr.Error
			if errors.As(err, &e) {
				reason = e.Reason
			}
			fmt.Fprintf(stderr, "rebound suppressions %s: %s is not an address: %s\n", sub, mailaddr.Quote(pos[0], 64), reason)
			return 2
		}
		addr = a
	}
	now := time.Now().UTC()
	var sup store.Suppression
	if sub == "add" {
		if strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(stderr, "rebound suppressions add: --reason is required: say why, it is kept with the suppression")
			return 2
		}
		sup = store.Suppression{Address: addr, Cause: suppress.CauseManual, Reason: *reason, Since: now,
			Actor: cliActor(), Note: *reason}
		if *expires != "" {
			d, err := config.ParseDuration(*expires)
			if err != nil || d == 0 {
				fmt.Fprintf(stderr, "rebound suppressions add: --expires %q: want a positive duration such as 90d or 12h\n", *expires)
				return 2
			}
			sup.Expires = now.Add(d)
		}
	}
	if sub == "export" && *asJSON {
		*asCSV = false
	}

	cfg, err := resolveConfig(fs, *cfgPath, overrides{"db": func(c *config.Config) { c.Store.URL = *db }})
	if err != nil {
		fmt.Fprintf(stderr, "rebound suppressions %s: %v\n", sub, err)
		return 2
	}
	ctx := context.Background()
	var st store.Store
	switch sub {
	case "add":
		// Only add may start a new store.
		st, err = openStore(ctx, cfg.Store.URL, storeOptions(&cfg))
	case "remove":
		// A mistyped --db must not create a file.
		if err = storeExists(cfg.Store.URL); err == nil {
			st, err = openStore(ctx, cfg.Store.URL, storeOptions(&cfg))
		}
	default:
		st, err = openReadStore(ctx, cfg.Store.URL, storeOptions(&cfg))
	}
	if err != nil {
		fmt.Fprintf(stderr, "rebound suppressions %s: %v\n", sub, err)
		return 2 // not "not suppressed": check must not read an error as an answer
	}
	defer st.Close()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "rebound suppressions %s: %v\n", sub, err)
		return 2
	}

	switch sub {
	case "check":
		s, err := st.Suppression(ctx, addr, now)
		if err != nil {
			return fail(err)
		}
		// The hard bounces with low confidence are what a reader of a
		// surprising answer wants to see: those behind a suppression,
		// or those that did not make one.
		var low []record.Record
		if s == nil || len(s.LowConfidence) > 0 {
			low, err = st.Records(ctx, store.Query{Recipient: addr, Class: record.ClassHard, Confidence: record.ConfidenceLow})
			if err != nil {
				return fail(err)
			}
		}
		if s == nil {
			if len(low) == 0 {
				fmt.Fprintf(stdout, "%s: not suppressed\n", addr)
			} else {
				fmt.Fprintf(stdout, "%s: not suppressed; %s with low confidence did not suppress it"+
					" (by default they count as soft bounces; see suppression.low_confidence_hard)\n",
					addr, plural(len(low), "hard bounce"))
				writeLowConfidence(stdout, low)
			}
			return 1
		}
		fmt.Fprintf(stdout, "%s: suppressed, %s\n", addr, describeSuppression(s))
		writeLowConfidence(stdout, low)
		return 0
	case "add":
		if err := st.AddSuppression(ctx, sup); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s: suppressed, %s\n", addr, describeSuppression(&sup))
		return 0
	case "remove":
		had, err := st.RemoveSuppression(ctx, addr, store.Actor{Who: cliActor(), Why: *reason})
		if err != nil {
			return fail(err)
		}
		if had {
			fmt.Fprintf(stdout, "%s: suppression removed\n", addr)
		} else {
			fmt.Fprintf(stdout, "%s: was not suppressed\n", addr)
		}
		return 0
	}

	// list and export
	sups, err := st.Suppressions(ctx, now)
	if err != nil {
		return fail(err)
	}
	table := writeAddresses
	if sub == "export" {
		table = writeSuppressionsCSV
	} else if *verbose {
		table = writeAddressesVerbose
	}
	if err := printList(stdout, asJSON != nil && *asJSON, sups, table); err != nil {
		return fail(err)
	}
	return 0
}

// writeAddresses prints the suppressed addresses, one per line.
func writeAddresses(w io.Writer, sups []store.Suppression) error {
	for _, s := range sups {
		if _, err := fmt.Fprintln(w, shownAddress(s.Address)); err != nil {
			return err
		}
	}
	return nil
}

// writeAddressesVerbose prints the suppressed addresses with why, one per
// line.
func writeAddressesVerbose(w io.Writer, sups []store.Suppression) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := range sups {
		fmt.Fprintf(tw, "%s\t%s\n", shownAddress(sups[i].Address), describeSuppression(&sups[i]))
	}
	return tw.Flush()
}

// shownAddress is a stored address as a line of output shows it: as it
// is, or quoted with its control characters escaped when it is no
// address, as a store written before addresses were checked may hold, so
// that one address is always one line.
func shownAddress(addr string) string {
	if _, err := mailaddr.Parse(addr); err != nil {
		return mailaddr.Quote(addr, len(addr))
	}
	return addr
}

// maxLowConfidenceShown bounds the records check lists; the newest are
// shown.
const maxLowConfidenceShown = 10

// writeLowConfidence lists hard bounces with low confidence, oldest first,
// each with what decided its verdict.
func writeLowConfidence(w io.Writer, recs []record.Record) {
	if n := len(recs) - maxLowConfidenceShown; n > 0 {
		fmt.Fprintf(w, "  (%s not shown)\n", plural(n, "earlier one"))
		recs = recs[n:]
	}
	for i := range recs {
		r := &recs[i]
		fmt.Fprintf(w, "  %s  hard, low confidence  %s %s: %s\n", r.ReceivedAt.UTC().Format(time.RFC3339),
			orDash(r.Status), orDash(r.Reason), orDash(oneLine(r.Evidence)))
	}
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// cliActor names who changes a suppression from the command line in the
// address's history: "cli:" and the login name.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return "cli:" + name
	}
	return "cli"
}

// describeSuppression says in one line why and how long an address is
// suppressed.
func describeSuppression(s *store.Suppression) string {
	var b strings.Builder
	b.WriteString("cause ")
	b.WriteString(s.Cause)
	if s.Reason != "" {
		fmt.Fprintf(&b, " (%s)", s.Reason)
	}
	fmt.Fprintf(&b, " since %s", s.Since.UTC().Format(time.RFC3339))
	if s.Expires.IsZero() {
		b.WriteString(", no expiry")
	} else {
		fmt.Fprintf(&b, ", until %s", s.Expires.UTC().Format(time.RFC3339))
	}
	if n := len(s.Evidence); n > 0 {
		fmt.Fprintf(&b, ", %s as evidence", plural(n, "record"))
	}
	n := len(s.LowConfidence)
	if n == 0 {
		return b.String()
	}
	all := n == len(s.Evidence)
	switch {
	case all && n == 1:
		b.WriteString(", a hard bounce with low confidence")
	case all:
		b.WriteString(", all hard bounces with low confidence")
	case n == 1:
		b.WriteString(", 1 of them a hard bounce with low confidence")
	default:
		fmt.Fprintf(&b, ", %d of them hard bounces with low confidence", n)
	}
	switch {
	case s.Cause == suppress.CauseSoft && n == 1:
		b.WriteString(" (counted as a soft bounce)")
	case s.Cause == suppress.CauseSoft:
		b.WriteString(" (counted as soft bounces)")
	case s.Cause == suppress.CauseHard && all:
		// Only this treatment makes such a bounce the cause of a hard
		// suppression; a sure hard bounce would be evidence too.
		b.WriteString(` (suppressed at once, as suppression.low_confidence_hard = "suppress" makes them)`)
	}
	return b.String()
}

// writeSuppressionsCSV writes RFC 4180 CSV with a header line; evidence
// keys are separated by spaces in one field, times are RFC 3339 and an
// empty expiry means never.
//
// The file is meant for spreadsheets too, which run a cell that looks
// like a formula: following OWASP's advice on CSV injection, a cell that
// starts with one of = + - @, a tab or a carriage return (or a full-width
// = + - @, which some spreadsheets read alike) gets a leading ', and every
// cell is quoted, so that one read with another separator (';') is not
// split into cells that start so.
func writeSuppressionsCSV(w io.Writer, sups []store.Suppression) error {
	bw := bufio.NewWriter(w)
	writeCSVRow(bw, "address", "cause", "reason", "since", "expires", "evidence")
	for _, s := range sups {
		exp := ""
		if !s.Expires.IsZero() {
			exp = s.Expires.UTC().Format(time.RFC3339)
		}
		writeCSVRow(bw, s.Address, s.Cause, s.Reason, s.Since.UTC().Format(time.RFC3339), exp,
			strings.Join(s.Evidence, " "))
	}
	return bw.Flush()
}

// writeCSVRow writes one line of CSV (RFC 4180 section 2), every field
// quoted and neutralised (csvCell).
func writeCSVRow(w *bufio.Writer, fields ...string) {
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(csvCell(f), `"`, `""`))
		w.WriteByte('"')
	}
	w.WriteByte('\n')
}

// csvCell is v as a cell no spreadsheet takes for a formula: prefixed
// with ' when its first character could start one.
func csvCell(v string) string {
	r, _ := utf8.DecodeRuneInString(v)
	switch r {
	case '=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠':
		return "'" + v
	}
	return v
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("check ADDRESS --db x" as well as "check --db x
// ADDRESS"), and returns the positional ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, stop bool, status int) {
	for {
		if stop, status := parseFlags(fs, args); stop {
			return nil, true, status
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, false, 0
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), false, 0
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// storeExists reports an error when url names a SQLite file that does not
// exist (opening it would create an empty store); other stores are checked
// by opening them.
func storeExists(url string) error {
	scheme, path, err := store.ParseURL(url)
	if err != nil {
		return err
	}
	if scheme != "sqlite" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no store at %s (give --db or store.url)", path)
		}
		return err
	}
	return nil
}
