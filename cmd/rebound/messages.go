package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
)

const messagesUsage = `usage: rebound messages [--config FILE] [--db PATH-or-URL] [--unrecognized] [--truncated] [--since T] [--limit N] [--oldest] [--json]
       rebound messages show ID [--config FILE] [--db PATH-or-URL]
       rebound messages raw ID [--config FILE] [--db PATH-or-URL]

The first form lists stored messages, newest first (--oldest: oldest
first): their ID, when they
came, from where, the decoder that read them and why one could not be
read. show prints one message's envelope, its parse error and its records;
raw writes the message exactly as it was received, for a bug report or
"rebound parse -".`

// messageView is a stored message as "rebound messages --json" prints it.
type messageView struct {
	ID                  int64     `json:"id"`
	ReceivedAt          time.Time `json:"received_at"`
	Source              string    `json:"source"`
	RemoteAddr          string    `json:"remote_addr,omitempty"`
	Helo                string    `json:"helo,omitempty"`
	MailFrom            string    `json:"mail_from"`
	RcptTo              []string  `json:"rcpt_to,omitempty"`
	Format              string    `json:"format,omitempty"`
	ParseError          string    `json:"parse_error,omitempty"`
	TruncatedRecipients int       `json:"truncated_recipients,omitempty"`
	AuthResults         string    `json:"auth_results,omitempty"`
}

func viewMessage(m *store.Message) messageView {
	return messageView{m.ID, m.ReceivedAt.UTC(), m.Source, m.RemoteAddr, m.Helo, m.MailFrom, m.RcptTo,
		m.Format, m.ParseError, m.TruncatedRecipients, m.AuthResults}
}

// runMessages implements "rebound messages": the stored messages, those
// that could not be decoded first of all, and their raw bytes.
func runMessages(args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && (args[0] == "show" || args[0] == "raw") {
		sub, args = args[0], args[1:]
	}
	name := "messages"
	if sub != "list" {
		name += " " + sub
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, messagesUsage)
		fmt.Fprintln(stderr, "\nflags of "+name+":")
		fs.PrintDefaults()
	}
	cfgPath := configFlag(fs)
	db := dbFlag(fs)
	var q store.MessageQuery
	var since *string
	var asJSON, oldest *bool
	nargs := 1
	if sub == "list" {
		nargs = 0
		fs.BoolVar(&q.Unrecognized, "unrecognized", false, "only messages that could not be decoded")
		fs.BoolVar(&q.Truncated, "truncated", false, "only messages that named more recipients than were recorded")
		since = fs.String("since", "", "only messages received since T: RFC 3339 time, date (2006-01-02) or age (36h, 7d)")
		fs.IntVar(&q.Limit, "limit", 0, "at most N messages, the newest (the oldest with --oldest; 0: all)")
		oldest = fs.Bool("oldest", false, "oldest first, instead of newest first")
		asJSON = fs.Bool("json", false, "print JSON Lines, one message object per line")
	}
	pos, stop, status := parseInterspersed(fs, args)
	if stop {
		return status
	}
	if len(pos) != nargs {
		fs.Usage()
		return 2
	}
	var id int64
	if nargs == 1 {
		var err error
		if id, err = strconv.ParseInt(pos[0], 10, 64); err != nil || id <= 0 {
			fmt.Fprintf(stderr, "rebound %s: %q: want a message ID, a positive number as rebound messages lists\n", name, pos[0])
			return 2
		}
	}
	if q.Limit < 0 {
		fmt.Fprintf(stderr, "rebound %s: --limit must not be negative\n", name)
		return 2
	}
	q.Newest = oldest != nil && !*oldest
	if since != nil && *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "rebound %s: --since: %v\n", name, err)
			return 2
		}
		q.Since = t
	}
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"db": func(c *config.Config) { c.Store.URL = *db }})
	if err != nil {
		return failf(stderr, name, "%v", err)
	}
	ctx := context.Background()
	st, err := openReadStore(ctx, cfg.Store.URL, storeOptions(&cfg))
	if err != nil {
		return failf(stderr, name, "%v", err)
	}
	defer st.Close()

	if sub == "list" {
		msgs, err := st.Messages(ctx, q)
		if err != nil {
			return failf(stderr, name, "%v", err)
		}
		views := make([]messageView, len(msgs))
		for i := range msgs {
			views[i] = viewMessage(&msgs[i])
		}
		if err := printList(stdout, *asJSON, views, writeMessages); err != nil {
			return failf(stderr, name, "%v", err)
		}
		return 0
	}
	m, err := st.Message(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return failf(stderr, name, "no message %d in the store", id)
	} else if err != nil {
		return failf(stderr, name, "%v", err)
	}
	if sub == "raw" {
		if m.Raw == nil {
			return failf(stderr, name, "message %d: its raw bytes were deleted (retention.messages)", id)
		}
		if _, err := stdout.Write(m.Raw); err != nil {
			return failf(stderr, name, "%v", err)
		}
		return 0
	}
	if err := writeMessage(stdout, m); err != nil {
		return failf(stderr, name, "%v", err)
	}
	return 0
}

// writeMessages prints one line per message.
func writeMessages(w io.Writer, msgs []messageView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tSOURCE\tFROM\tFORMAT\tPARSE ERROR")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.ReceivedAt.Format("2006-01-02 15:04:05"),
			orDash(clip(m.Source, 40)), orDash(m.MailFrom), orDash(m.Format), orDash(clip(m.ParseError, 60)))
	}
	return tw.Flush()
}

// writeMessage prints a message's envelope, its parse error and its
// records.
func writeMessage(w io.Writer, m *store.Message) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "id:\t%d\n", m.ID)
	fmt.Fprintf(tw, "received:\t%s\n", m.ReceivedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "source:\t%s\n", orDash(m.Source))
	if m.RemoteAddr != "" || m.Helo != "" {
		fmt.Fprintf(tw, "client:\t%s (helo %s)\n", orDash(m.RemoteAddr), orDash(m.Helo))
	}
	fmt.Fprintf(tw, "mail from:\t<%s>\n", m.MailFrom)
	if len(m.RcptTo) > 0 {
		fmt.Fprintf(tw, "rcpt to:\t%s\n", strings.Join(m.RcptTo, ", "))
	}
	fmt.Fprintf(tw, "size:\t%d bytes\n", len(m.Raw))
	fmt.Fprintf(tw, "format:\t%s\n", orDash(m.Format))
	if m.AuthResults != "" {
		fmt.Fprintf(tw, "auth:\t%s\n", m.AuthResults)
	}
	if m.ParseError != "" {
		fmt.Fprintf(tw, "parse error:\t%s\n", oneLine(m.ParseError))
	}
	if m.TruncatedRecipients > 0 {
		fmt.Fprintf(tw, "truncated:\t%s not recorded\n", plural(m.TruncatedRecipients, "recipient"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(m.Records) == 0 {
		_, err := fmt.Fprintln(w, "\nno records")
		return err
	}
	fmt.Fprintf(w, "\n%s:\n", plural(len(m.Records), "record"))
	return writeRecordTable(w, m.Records)
}
