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
