package smtpd

// Abuse of resources, on loopback against the real listener storing into
// a real SQLite store through the real decoder: many maximum-size
// messages at once must keep memory within the data budget, and reports
// naming the most recipients must not hold up an ordinary bounce.
//
// The sizes here keep the tests fast enough for every run. The full-size
// run (60 concurrent messages of 10 MB against a 256 MiB budget, a 512 MiB
// ceiling, reports of 140,000 recipients) is
//
//	REBOUND_ABUSE_FULL=1 go test -run 'Abuse' -v ./smtpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// abuseFull reports whether the full-size runs were asked for.
func abuseFull() bool { return os.Getenv("REBOUND_ABUSE_FULL") != "" }

type realServer struct {
	srv   *Server
	store store.Store
	addr  string
}

// startReal starts a listener on loopback storing into a new SQLite
// database through the real decoder, which records at most maxRcpts
// recipients of a report.
func startReal(t *testing.T, cfg Config, maxRcpts int) *realServer {
	t.Helper()
	cfg.Domains = []string{"bounces.example.org"}
	cfg.Hostname = "rebound.test"
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := classify.New("en")
	if err != nil {
		t.Fatal(err)
	}
	limits := dsn.DefaultLimits
	limits.MaxMessageSize = int(cfg.MaxMessageSize)
	limits.MaxRecipients = maxRcpts
	an := &bounce.Analyzer{Parser: &dsn.Parser{Limits: limits}, Classifier: cl}
	srv, err := New(cfg, st, an, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		st.Close()
	})
	return &realServer{srv: srv, store: st, addr: l.Addr().String()}
}

// recipientBlocks returns the body of a delivery status notification of
// about size bytes whose status part names a new recipient in every block
// of three fields, as many as fit: 10 MB hold 140,000. Each sender puts a
// header of its own in front, so that every message is new to the store.
func recipientBlocks(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 1024)
	b.WriteString("From: Mail Delivery System <MAILER-DAEMON@mx.abuser.example>\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.abuser.example\r\n\r\n")
	for i := 0; b.Len() < size-64; i++ {
		fmt.Fprintf(&b, "Final-Recipient: rfc822; u%d@abused.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n", i)
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

// outcome is how one transaction ended, by the class of its reply.
type outcome struct {
	code    int   // 250, 452...; 0 when no reply came
	err     error // the client's error when there was no SMTP reply
	latency time.Duration
}

// sendTagged sends tag as a header line, then body, on a new connection
// with every read and write bounded by deadline.
func sendTagged(addr, tag string, body []byte, deadline time.Duration) outcome {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		return outcome{err: err}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	c := smtp.NewClient(conn)
	defer c.Close()
	err = func() error {
		if err := c.Hello("mx.sender.example"); err != nil {
			return err
		}
		if err := c.Mail("", nil); err != nil {
			return err
		}
		if err := c.Rcpt("b@bounces.example.org", nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "X-Tag: %s\r\n", tag); err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			// A server that refused the message mid-way still reads it:
			// the reply says what became of it.
			w.Close()
			return err
		}
		return w.Close()
	}()
	o := outcome{latency: time.Since(start)}
	var se *smtp.SMTPError
	switch {
	case err == nil:
		o.code = 250
	case errors.As(err, &se):
		o.code = se.Code
	default:
		o.err = err
	}
	c.Quit()
	return o
}

// memSampler records the peak memory of this process while it runs: the
// memory the Go runtime holds from the system (heap, stacks, metadata;
// what it has returned not counted), the live heap, and the resident set.
type memSampler struct {
	stop                      chan struct{}
	done                      chan struct{}
	peakRuntime, peakHeap     uint64
	baseRuntime, baseRSS, rss uint64
	// The peaks of the resident set's anonymous memory (heap, SQLite's
	// memory) and of its file pages (the mapped spool files, the binary).
	peakAnon, peakFile uint64
}

func startMemSampler() *memSampler {
	runtime.GC()
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	m.baseRuntime, _ = runtimeMemory()
	// Reset the kernel's peak resident set (VmHWM) to now.
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	m.baseRSS = procStatus("VmRSS")
	go func() {
		defer close(m.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-m.stop:
				m.rss = procStatus("VmHWM")
				return
			case <-tick.C:
				rt, heap := runtimeMemory()
				m.peakRuntime = max(m.peakRuntime, rt)
				m.peakHeap = max(m.peakHeap, heap)
				if n%5 == 0 {
					m.peakAnon = max(m.peakAnon, procStatus("RssAnon"))
					m.peakFile = max(m.peakFile, procStatus("RssFile"))
				}
			}
		}
	}()
	return m
}

func (m *memSampler) finish() { close(m.stop); <-m.done }

// runtimeMemory returns the memory the Go runtime has mapped and not
// returned to the system, and the bytes of heap objects.
func runtimeMemory() (held, heap uint64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64(), s[2].Value.Uint64()
}

// procStatus reads a size field of /proc/self/status in bytes; 0 where
// there is none.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// TestAbuseConcurrentMaximumMessages sends many messages of the maximum
// size at once, far more than the data budget holds: every client gets
// 250 or a 4xx (never a 5xx, never a hang), and the memory the process
// takes stays under a ceiling set by the budget, not by the number of
// clients.
func TestAbuseConcurrentMaximumMessages(t *testing.T) {
	clients, size := 24, 2<<20
	budget, ceiling := int64(16<<20), uint64(96<<20)
	if abuseFull() {
		clients, size = 60, 10<<20-64<<10
		budget, ceiling = 256<<20, 512<<20
	} else if raceEnabled {
		clients, size, budget = 12, 1<<20, 8<<20
	}
	rs := startReal(t, Config{
		MaxMessageSize: int64(size) + 64<<10, MaxConnectionsPerIP: clients + 10,
		DataBudget: budget, SpoolDir: t.TempDir(),
	}, 1000)
	body := recipientBlocks(size)

	mem := startMemSampler()
	start := time.Now()
	outcomes := make([]outcome, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i] = sendTagged(rs.addr, fmt.Sprintf("client-%d", i), body, 2*time.Minute)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	mem.finish()

	counts := map[int]int{}
	for i, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("client %d: no reply: %v", i, o.err)
		case o.code >= 500:
			t.Errorf("client %d: permanent reply %d", i, o.code)
		}
		counts[o.code]++
	}
	t.Logf("%d clients x %d KiB against a %d MiB budget in %v: %d answered 250, %d answered 452, others %v",
		clients, size>>10, budget>>20, elapsed.Round(time.Millisecond), counts[250], counts[452], counts)
	t.Logf("peak memory: Go runtime %.0f MiB (%.0f at start), heap objects %.0f MiB; resident set %.0f MiB (%.0f at start): anonymous %.0f MiB, file pages %.0f MiB",
		mib(mem.peakRuntime), mib(mem.baseRuntime), mib(mem.peakHeap), mib(mem.rss), mib(mem.baseRSS), mib(mem.peakAnon), mib(mem.peakFile))
	if counts[250] == 0 {
		t.Errorf("no message accepted")
	}
	if mem.peakRuntime > ceiling {
		t.Errorf("the Go runtime held %.0f MiB, over the ceiling of %.0f MiB", mib(mem.peakRuntime), mib(ceiling))
	}
	waitFor(t, "the budget to be given back", func() bool { return rs.srv.budget.inUse() == 0 })
	msgs, err := rs.store.Messages(context.Background(), store.MessageQuery{Truncated: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != counts[250] {
		t.Errorf("%d messages stored with truncated recipients, want the %d accepted", len(msgs), counts[250])
	}
	recs, err := rs.store.Records(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1000*counts[250] {
		t.Errorf("%d records stored, want 1000 for each of the %d messages", len(recs), counts[250])
	}
}

// TestAbuseLatency sends ordinary bounces one after another while other
// clients stream reports naming the most recipients they can fit: each
// ordinary bounce must still get its 250 quickly.
func TestAbuseLatency(t *testing.T) {
	abusers, size, ordinary := 2, 2<<20, 50
	bound := time.Second
	if abuseFull() {
		abusers, size = 5, 10<<20-64<<10
	} else if raceEnabled {
		size, ordinary = 256<<10, 10
	}
	rs := startReal(t, Config{MaxMessageSize: int64(size) + 64<<10, SpoolDir: t.TempDir()}, 1000)
	body := recipientBlocks(size)

	stop := make(chan struct{})
	var abused atomic.Int64
	var wg sync.WaitGroup
	for a := range abusers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o := sendTagged(rs.addr, fmt.Sprintf("abuser-%d-%d", a, n), body, 2*time.Minute)
				if o.code == 250 {
					abused.Add(1)
				} else {
					t.Errorf("abuser %d: %d %v", a, o.code, o.err)
					return
				}
			}
		}()
	}
	// Let the abusers get going.
	waitFor(t, "a report to be stored", func() bool { return abused.Load() > 0 })

	msg := fixture(t)
	var lat []time.Duration
	for i := range ordinary {
		o := sendTagged(rs.addr, fmt.Sprintf("ordinary-%d", i), msg, time.Minute)
		if o.code != 250 {
			t.Fatalf("ordinary bounce %d: %d %v", i, o.code, o.err)
		}
		lat = append(lat, o.latency)
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	p := func(q int) time.Duration { return lat[(len(lat)*q+99)/100-1] }
	t.Logf("%d abusers streaming %d KiB reports (%d stored meanwhile); %d ordinary bounces: p50 %v p90 %v p99 %v max %v",
		abusers, size>>10, abused.Load(), ordinary, p(50), p(90), p(99), lat[len(lat)-1])
	// Under the race detector everything runs several times slower, and
	// what is timed is its bookkeeping: only hangs count there.
	if p(99) > bound && !raceEnabled {
		t.Errorf("ordinary bounce p99 %v, want at most %v", p(99), bound)
	}
}
