package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// runBounces implements "rebound bounces": it lists stored records, as a
// table or, with --json, as JSON Lines of record.Record (the output of
// "rebound parse --json", confidence and evidence included).
func runBounces(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bounces", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON Lines, one record object per line")
	verbose := fs.Bool("verbose", false, "add the EVIDENCE column: what decided each verdict")
	cfgPath := configFlag(fs)
	db := dbFlag(fs)
	q := store.Query{Newest: true}
	fs.StringVar(&q.Recipient, "recipient", "", "only records for this address")
	fs.StringVar(&q.Domain, "domain", "", "only records for recipients at this domain")
	fs.StringVar(&q.MessageID, "message-id", "", "only records of the message with this Message-ID (the one that bounced; angle brackets optional)")
	fs.StringVar(&q.Reason, "reason", "", "only records with this reason (e.g. userunknown; see below)")
	fs.StringVar(&q.Class, "class", "", "only records of this class: hard, soft, block, complaint, auto-reply, delivered, unknown")
	fs.StringVar(&q.Confidence, "confidence", "", "only records whose verdict has this confidence: high or low (high includes records stored before confidence was recorded, shown as -)")
	since := fs.String("since", "", "only records received since T: RFC 3339 time, date (2006-01-02) or age (36h, 7d)")
	fs.IntVar(&q.Limit, "limit", 50, "at most N records (0: all)")
	oldest := fs.Bool("oldest", false, "oldest first (and the oldest N with --limit), instead of newest first")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound bounces [--json | --verbose] [--config FILE] [--db PATH-or-URL] [--recipient A] [--domain D] [--message-id ID] [--reason R] [--class C] [--confidence high|low] [--since T] [--limit N] [--oldest]")
		fmt.Fprintln(stderr, "\nLists the newest records first, 50 unless --limit says otherwise.")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\nreasons:")
		writeWrapped(stderr, "  ", classify.Reasons(), 72)
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}
	if q.Class != "" && !record.ValidClass(q.Class) {
		fmt.Fprintf(stderr, "rebound bounces: --class %q: want hard, soft, block, complaint, auto-reply, delivered or unknown\n", q.Class)
		return 2
	}
	if q.Reason != "" && !classify.ValidReason(q.Reason) {
		fmt.Fprintf(stderr, "rebound bounces: --reason %q: unknown reason; \"rebound help bounces\" lists the reasons\n", q.Reason)
		return 2
	}
	switch q.Confidence {
	case "", record.ConfidenceHigh, record.ConfidenceLow:
	default:
		fmt.Fprintf(stderr, "rebound bounces: --confidence %q: want high or low\n", q.Confidence)
		return 2
	}
	if q.Limit < 0 {
		fmt.Fprintln(stderr, "rebound bounces: --limit must not be negative")
		return 2
	}
	q.Newest = !*oldest
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "rebound bounces: --since: %v\n", err)
			return 2
		}
		q.Since = t
	}
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"db": func(c *config.Config) { c.Store.URL = *db }})
	if err != nil {
		return failf(stderr, "bounces", "%v", err)
	}

	ctx := context.Background()
	st, err := openReadStore(ctx, cfg.Store.URL, storeOptions(&cfg))
	if err != nil {
		return failf(stderr, "bounces", "%v", err)
	}
	defer st.Close()
	recs, err := st.Records(ctx, q)
	if err != nil {
		return failf(stderr, "bounces", "%v", err)
	}
	table := writeRecordTable
	if *verbose {
		table = writeRecordTableVerbose
	}
	if err := printList(stdout, *asJSON, recs, table); err != nil {
		return failf(stderr, "bounces", "%v", err)
	}
	// The note goes beside the table, and to stderr under --json, so that
	// the JSON Lines stay records only.
	note := stdout
	if *asJSON {
		note = stderr
	}
	if err := writeTruncatedNote(ctx, note, st, q); err != nil {
		return failf(stderr, "bounces", "%v", err)
	}
	if q.Limit > 0 && len(recs) == q.Limit {
		which := "newest"
		if !q.Newest {
			which = "oldest"
		}
		fmt.Fprintf(stderr, "rebound bounces: the %s %s shown; --limit 0 lists all\n", which, plural(q.Limit, "record"))
	}
	return 0
}

// parseSince reads an RFC 3339 time, a date (UTC midnight) or an age
// before now ("36h", "7d").
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, a date like 2006-01-02, or an age like 36h or 7d", s)
}

// writeRecordTable prints one line per record, the columns a person
// scanning bounces wants first. CONF is the confidence of the verdict, -
// for records stored before it was recorded.
func writeRecordTable(w io.Writer, recs []record.Record) error {
	return recordTable(w, recs, false)
}

// writeRecordTableVerbose is writeRecordTable with the evidence of each
// verdict in a last column, whole.
func writeRecordTableVerbose(w io.Writer, recs []record.Record) error {
	return recordTable(w, recs, true)
}

func recordTable(w io.Writer, recs []record.Record, evidence bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "RECEIVED\tRECIPIENT\tCLASS\tCONF\tAUTH\tREASON\tSTATUS\tACTION\tDIAGNOSTIC"
	if evidence {
		header += "\tEVIDENCE"
	}
	fmt.Fprintln(tw, header)
	for i := range recs {
		r := &recs[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s",
			r.ReceivedAt.UTC().Format("2006-01-02 15:04:05"), orDash(r.Recipient), orDash(r.Class),
			orDash(r.Confidence), orDash(r.Auth), orDash(r.Reason), orDash(r.Status), orDash(r.Action), orDash(clip(r.Diagnostic, 60)))
		if evidence {
			fmt.Fprintf(tw, "\t%s", orDash(oneLine(r.Evidence)))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeWrapped writes words separated by spaces, in lines of at most
// width characters that start with indent.
func writeWrapped(w io.Writer, indent string, words []string, width int) {
	line := indent
	for _, word := range words {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

// oneLine joins the lines of s with single spaces, for a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to n runes on one line, for tables.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
