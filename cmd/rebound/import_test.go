package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/store"
)

// A message that makes the decoder panic is stored as unrecognized and
// reported with its place in the mbox; the messages around it are stored
// with their records.
func TestImportPanicPerMessage(t *testing.T) {
	dir := t.TempDir()
	box := poisonMbox(t, dir)
	ctx := context.Background()
	st, err := openStore(ctx, filepath.Join(dir, "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var errOut bytes.Buffer
	in := &mailbox.Reader{MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	sum := importMessages(ctx, newPoisonAnalyzer(t), nil, st, in, []string{box}, nil, &errOut)
	if got := [5]int64{sum.messages.Load(), sum.records.Load(), sum.duplicates.Load(), sum.unrecognized.Load(), sum.errors.Load()}; got != [5]int64{3, 4, 0, 1, 1} {
		t.Errorf("messages, records, duplicates, unrecognized, errors = %v, want [3 4 0 1 1]", got)
	}
	msg := errOut.String()
	want := "rebound import: " + box + ":2: decoder panic: runtime error: slice bounds out of range [4:3]\n"
	if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "\tgithub.com/rebound-mail/rebound/cmd/rebound.poisonAnalyzer.Analyze") {
		t.Errorf("stderr does not start %q or has no stack:\n%s", want, msg)
	}

	msgs, err := st.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Source+" "+m.ParseError)
	}
	slices.Sort(got)
	wantMsgs := []string{
		box + ":1 ",
		box + ":2 decoder panic: runtime error: slice bounds out of range [4:3]",
		box + ":3 ",
	}
	if !slices.Equal(got, wantMsgs) {
		t.Errorf("stored messages\n got %q\nwant %q", got, wantMsgs)
	}
}
