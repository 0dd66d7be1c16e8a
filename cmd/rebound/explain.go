package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/config"
)

// runExplain implements "rebound explain [--lang en|nl] [--json]
// CODE-or-TEXT": it prints what a status code, a server reply or a
// server's free text means, from the catalog.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the answer as a JSON object")
	lang := fs.String("lang", "en", "language of the explanation: en or nl (default: the configuration's classify.language)")
	cfgPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound explain [--config FILE] [--lang en|nl] [--json] CODE-or-TEXT")
		fmt.Fprintln(stderr, "\nexamples: rebound explain 5.7.509")
		fmt.Fprintln(stderr, "          rebound explain 550 5.7.1 Unable to relay")
		fmt.Fprintln(stderr, "          rebound explain --lang nl \"mailbox full\"")
		fs.PrintDefaults()
	}
	query, code := parseExplainArgs(fs, args)
	if code >= 0 {
		return code
	}
	if query == "" {
		fs.Usage()
		return 2
	}
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"lang": func(c *config.Config) { c.Classify.Language = *lang }})
	if err != nil {
		fmt.Fprintf(stderr, "rebound explain: %v\n", err)
		return 2
	}
	language := cfg.Classify.Language
	cl, err := classify.New(language)
	if err != nil {
		fmt.Fprintf(stderr, "rebound explain: %v\n", err)
		return 2
	}
	ex, err := cl.Explain(query)
	if err != nil {
		if errors.Is(err, classify.ErrUnknown) {
			fmt.Fprintf(stderr, "rebound explain: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "rebound explain: cannot read the query: %v\n", err)
		}
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ex); err != nil {
			fmt.Fprintf(stderr, "rebound explain: %v\n", err)
			return 1
		}
		return 0
	}
	printExplanation(stdout, ex, language)
	return 0
}

// parseExplainArgs reads flags wherever they stand among the words of the
// query ("rebound explain 5.7.509 --lang nl"). It returns the query and -1,
// or an exit status when the arguments end the command.
func parseExplainArgs(fs *flag.FlagSet, args []string) (string, int) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", 0
			}
			return "", 2
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return strings.Join(words, " "), -1
}

// labels are the field names of the text output, per language.
var labels = map[string][8]string{
	"en": {"code", "meaning", "reason", "class", "who must fix it", "what to do", "explanation", "catalog entry"},
	"nl": {"code", "betekenis", "reden", "klasse", "wie moet het oplossen", "wat te doen", "uitleg", "catalogusregel"},
}

func printExplanation(w io.Writer, ex classify.Explanation, lang string) {
	l, ok := labels[lang]
	if !ok {
		l = labels["en"]
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	code := strings.TrimSpace(ex.SMTPCode + " " + ex.Status)
	if code != "" {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], code)
	}
	// The entry that decided, if it is one of the code's entries, gives the
	// title.
	for _, e := range ex.Entries {
		if e.Name == ex.Result.Entry {
			fmt.Fprintf(tw, "%s:\t%s\n", l[1], e.Title)
		}
	}
	fmt.Fprintf(tw, "%s:\t%s\n", l[2], ex.Result.Reason)
	fmt.Fprintf(tw, "%s:\t%s\n", l[3], ex.Result.Class)
	fmt.Fprintf(tw, "%s:\t%s\n", l[4], ex.Result.FixOwner)
	fmt.Fprintf(tw, "%s:\t%s\n", l[5], ex.Result.Advice)
	fmt.Fprintf(tw, "%s:\t%s\n", l[6], ex.Result.Explanation)
	fmt.Fprintf(tw, "%s:\t%s\n", l[7], ex.Result.Entry)
	tw.Flush()
	// Other meanings the same code has elsewhere (another provider, or
	// with other text).
	first := true
	for _, e := range ex.Entries {
		if e.Name == ex.Result.Entry {
			continue
		}
		if first {
			if lang == "nl" {
				fmt.Fprintln(w, "\nandere betekenissen van deze code:")
			} else {
				fmt.Fprintln(w, "\nother meanings of this code:")
			}
			first = false
		}
		cond := ""
		if len(e.When) > 0 {
			cond = ` [text: "` + strings.Join(e.When, `" or "`) + `"]`
		}
		fmt.Fprintf(w, "  %s%s: %s — %s, %s. %s\n", e.Name, cond, e.Title, e.Reason, e.Class, e.Explanation)
	}
}
