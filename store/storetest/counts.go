package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// testSuppressionCounts counts suppressions by cause, leaving out those
// lifted or expired.
func testSuppressionCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.SuppressionCounts(ctx, base); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	hard := func(addr string) record.Record {
		return record.Record{Recipient: addr, Action: "failed", Status: "5.1.1", Reason: "userunknown",
			Class: record.ClassHard, Confidence: record.ConfidenceHigh}
	}
	m := &store.Message{ReceivedAt: base, Source: "smtp", Raw: []byte("Subject: counts\r\n\r\nhard bounces\r\n"),
		Records: []record.Record{hard("a@example.org"), hard("b@example.org")}}
	if _, err := s.Save(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, sup := range []store.Suppression{
		{Address: "m1@example.org", Reason: "asked", Since: base},
		{Address: "m2@example.org", Reason: "asked", Since: base, Expires: base.Add(time.Hour)},
		{Address: "m3@example.org", Reason: "asked", Since: base},
	} {
		if err := s.AddSuppression(ctx, sup); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RemoveSuppression(ctx, "m3@example.org", store.Actor{Who: "test"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{suppress.CauseHard: 2, suppress.CauseManual: 2}
	if got, err := s.SuppressionCounts(ctx, base.Add(time.Minute)); err != nil || !maps.Equal(got, want) {
		t.Errorf("SuppressionCounts = %v, %v; want %v", got, err, want)
	}
	want[suppress.CauseManual] = 1 // m2 expired
	if got, err := s.SuppressionCounts(ctx, base.Add(2*time.Hour)); err != nil || !maps.Equal(got, want) {
		t.Errorf("after expiry: SuppressionCounts = %v, %v; want %v", got, err, want)
	}
}
