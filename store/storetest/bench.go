package storetest

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// BenchSaveParallel measures durable saves into s from 32 concurrent
// callers, as from 32 SMTP connections. Each message is tmpl, a DSN with
// "TAG" where its unique tag goes, with one hard-bounce record, so one
// suppression is written too. It reports msgs/s beside the time per save.
func BenchSaveParallel(b *testing.B, s store.Store, tmpl []byte) {
	const callers = 32
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((callers + procs - 1) / procs)
	var seq atomic.Int64
	b.SetBytes(int64(len(tmpl)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tag := "u" + strconv.FormatInt(seq.Add(1), 10)
			addr := tag + "@example.org"
			m := &store.Message{
				Source:     "smtp",
				RemoteAddr: "192.0.2.25:40000",
				Helo:       "mx.example.net",
				RcptTo:     []string{"bounces+" + tag + "@sender.example"},
				Raw:        bytes.ReplaceAll(tmpl, []byte("TAG"), []byte(tag)),
				Format:     "rfc3464",
				Records: []record.Record{{
					Source: "smtp", Index: 1, Recipient: addr, Action: "failed", Status: "5.1.1",
					SMTPCode: "550", Diagnostic: "550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown",
					RemoteMTA: "mx.example.org", ReportingMTA: "mx.example.net", Reason: "userunknown",
					Class: record.ClassHard, FixOwner: record.OwnerSender, Advice: record.AdviceSuppress,
					OriginalMessageID: tag + ".campaign@sender.example", OriginalFrom: "news@sender.example",
					OriginalSubject: "Our May letter", OriginalHeaders: map[string]string{"X-Campaign": "may-2026"},
					Format: "rfc3464",
				}},
			}
			if _, err := s.Save(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// SentRegistrations is how many registrations BenchSentTo looks up among.
const SentRegistrations = 1_000_000

// BenchSentTo measures the lookup every report's Message-ID takes
// (Store.SentTo) among SentRegistrations registrations: one message to
// one recipient each, as a bulk sender sends, registered MaxRegister at
// a time before the timer starts.
func BenchSentTo(b *testing.B, s store.Store) {
	ctx := context.Background()
	sentAt := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	id := func(i int) string { return "m" + strconv.Itoa(i) + ".campaign@sender.example" }
	batch := make([]store.Sent, 0, store.MaxRegister)
	for i := 0; i < SentRegistrations; i += store.MaxRegister {
		batch = batch[:0]
		for j := i; j < i+store.MaxRegister && j < SentRegistrations; j++ {
			batch = append(batch, store.Sent{MessageID: id(j), Recipient: "u" + strconv.Itoa(j) + "@example.org",
				Campaign: "may-2026", SentAt: sentAt.Add(time.Duration(j) * time.Millisecond)})
		}
		if n, err := s.RegisterSent(ctx, batch); err != nil || n != len(batch) {
			b.Fatalf("registering: %d new, %v; want %d", n, err, len(batch))
		}
	}
	i := 0
	for b.Loop() {
		// Spread over the whole key range, as reports arrive.
		i = (i + 7919) % SentRegistrations
		sent, err := s.SentTo(ctx, "<"+id(i)+">")
		if err != nil {
			b.Fatal(err)
		}
		if len(sent) != 1 {
			b.Fatalf("SentTo(%s): %d registrations, want 1", id(i), len(sent))
		}
	}
}

// OverviewRecords is how many records BenchOverview counts among, received
// over OverviewSpan.
const (
	OverviewRecords = 1_000_000
	OverviewSpan    = 30 * 24 * time.Hour
)

// BenchOverview measures Overview over OverviewRecords records that
// Populate saves before the timer starts (it reports how long that took
// and the records per second): the dashboard's last 24 hours and last 7
// days by hour, from an hour that is not midnight, and the last 30 days
// by day. settle, when set, runs after Populate, before the timer: the
// maintenance a database does on its own in time (PostgreSQL's autovacuum).
func BenchOverview(b *testing.B, s store.Store, settle func(context.Context) error) {
	ctx := context.Background()
	since := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	truth, err := Populate(ctx, s, OverviewRecords, since, OverviewSpan, 1)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.Logf("populated %d records in %d messages in %s (%.0f records/s)", truth.Records, truth.Messages,
		took.Round(time.Millisecond), float64(truth.Records)/took.Seconds())
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	end := since.Add(OverviewSpan)
	now := end.Add(-11 * time.Hour)
	for _, tc := range []struct {
		name string
		q    store.OverviewQuery
	}{
		{"24h-hourly", store.OverviewQuery{Since: now.Add(-24 * time.Hour), Until: now, Bucket: time.Hour}},
		{"7d-hourly", store.OverviewQuery{Since: now.Add(-7 * 24 * time.Hour), Until: now, Bucket: time.Hour}},
		{"30d-daily", store.OverviewQuery{Since: since, Until: end, Bucket: 24 * time.Hour}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ov *store.Overview
			for b.Loop() {
				if ov, err = s.Overview(ctx, tc.q); err != nil {
					b.Fatal(err)
				}
			}
			var total int64
			for _, n := range ov.Totals {
				total += n
			}
			b.ReportMetric(float64(total), "records")
			if len(ov.Domains) != store.DefaultOverviewTop || ov.Domains[0].Key != "gmail.com" {
				b.Errorf("top domains: %+v", ov.Domains)
			}
		})
	}
}
