package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// testTruncatedRecipients checks that a message whose report named more
// recipients than were recorded keeps the count, reads it back and can be
// listed by it.
func testTruncatedRecipients(t *testing.T, s store.Store) {
	ctx := context.Background()
	cut := msg("cut", at(time.Hour),
		rec("first@example.org", record.ClassHard, "userunknown", at(time.Hour)),
		rec("second@example.org", record.ClassHard, "userunknown", at(time.Hour)))
	cut.TruncatedRecipients = 139000
	cutRes := save(t, s, cut)
	whole := msg("whole", at(2*time.Hour), rec("third@example.org", record.ClassHard, "userunknown", at(2*time.Hour)))
	wholeRes := save(t, s, whole)

	got, err := s.Message(ctx, cutRes.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TruncatedRecipients != 139000 || len(got.Records) != 2 {
		t.Errorf("Message: TruncatedRecipients %d with %d records, want 139000 with 2", got.TruncatedRecipients, len(got.Records))
	}
	if got, err := s.Message(ctx, wholeRes.MessageID); err != nil || got.TruncatedRecipients != 0 {
		t.Errorf("Message of a whole report: TruncatedRecipients %d, %v; want 0", got.TruncatedRecipients, err)
	}
	list, err := s.Messages(ctx, store.MessageQuery{Truncated: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != cutRes.MessageID || list[0].TruncatedRecipients != 139000 {
		t.Errorf("Messages(truncated) = %+v, want the one message %d with its count", list, cutRes.MessageID)
	}
	all, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].TruncatedRecipients != 139000 || all[1].TruncatedRecipients != 0 {
		t.Errorf("Messages() = %+v, want both with their counts", all)
	}

	// The same content again is a duplicate: its count changes nothing.
	again := msg("cut", at(3*time.Hour))
	again.TruncatedRecipients = 5
	if res := save(t, s, again); !res.Duplicate {
		t.Errorf("saving the same content again: not a duplicate")
	}
	if got, _ := s.Message(ctx, cutRes.MessageID); got == nil || got.TruncatedRecipients != 139000 {
		t.Errorf("after a duplicate: TruncatedRecipients changed")
	}
}
