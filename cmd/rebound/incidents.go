package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
)

// runIncidents implements "rebound incidents": the sending-side incidents
// (blocks from one destination for one code), open ones unless --all.
func runIncidents(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON Lines, one incident object per line")
	all := fs.Bool("all", false, "list closed incidents too")
	cfgPath := configFlag(fs)
	db := dbFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound incidents [--json] [--all] [--config FILE] [--db PATH-or-URL]")
		fmt.Fprintln(stderr, "\nLists blocks by destination and code, newest first: an incident is open")
		fmt.Fprintln(stderr, "while blocks keep coming, and closes after suppression.incident_quiet")
		fmt.Fprintln(stderr, "(default an hour) without one.")
		fs.PrintDefaults()
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"db": func(c *config.Config) { c.Store.URL = *db }})
	if err != nil {
		return failf(stderr, "incidents", "%v", err)
	}
	ctx := context.Background()
	// The store's policy decides when an incident is closed: the
	// configured quiet time, as rebound serve reads it.
	st, err := openReadStore(ctx, cfg.Store.URL, storeOptions(&cfg))
	if err != nil {
		return failf(stderr, "incidents", "%v", err)
	}
	defer st.Close()
	incs, err := st.Incidents(ctx, !*all, time.Now())
	if err != nil {
		return failf(stderr, "incidents", "%v", err)
	}
	if err := printList(stdout, *asJSON, incs, writeIncidents); err != nil {
		return failf(stderr, "incidents", "%v", err)
	}
	return 0
}

// writeIncidents prints one aligned line per incident:
//
//	outlook.com  5.7.606  blocked  312 records  since 2026-11-26T10:00:00Z  last 10:42
func writeIncidents(w io.Writer, incs []store.Incident) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, in := range incs {
		first, last := in.FirstSeen.UTC(), in.LastSeen.UTC()
		lastText := last.Format(time.RFC3339)
		if last.Format(time.DateOnly) == first.Format(time.DateOnly) {
			lastText = last.Format("15:04")
		}
		noun := "records"
		if in.Count == 1 {
			noun = "record"
		}
		state := ""
		if !in.Open {
			state = "\tclosed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d %s\tsince %s\tlast %s%s\n", in.Domain, orDash(in.Status),
			orDash(in.Reason), in.Count, noun, first.Format(time.RFC3339), lastText, state)
	}
	return tw.Flush()
}
