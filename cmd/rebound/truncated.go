package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rebound-mail/rebound/store"
)

// maxTruncatedShown bounds the messages writeTruncatedNote names one by
// one.
const maxTruncatedShown = 10

// writeTruncatedNote tells, after a listing of records, which stored
// messages received in [since, until) named more recipients than were
// recorded (listener.max_report_recipients): the listing holds the first
// recipients of those reports only. It writes nothing when there are none.
func writeTruncatedNote(ctx context.Context, w io.Writer, st store.Store, q store.Query) error {
	msgs, err := st.Messages(ctx, store.MessageQuery{Truncated: true, Since: q.Since, Until: q.Until})
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "note: %s named more recipients than were recorded (listener.max_report_recipients); only their first recipients have records:\n",
		plural(len(msgs), "stored report"))
	for i, m := range msgs {
		if i == maxTruncatedShown {
			fmt.Fprintf(w, "  and %d more\n", len(msgs)-i)
			break
		}
		from := m.RemoteAddr
		if from == "" {
			from = m.Source
		}
		fmt.Fprintf(w, "  message %d, received %s from %s: %s not recorded\n", m.ID,
			m.ReceivedAt.UTC().Format("2006-01-02 15:04:05"), orDash(from), plural(m.TruncatedRecipients, "recipient"))
	}
	return nil
}
