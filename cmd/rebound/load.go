package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/mailbox"
)

// loadIDHeader carries the identity of each message sent by "rebound load":
// RUN-SEQ. It makes every message unique (so the store does not fold them
// as duplicates) and lets a test find each accepted message in the store.
const loadIDHeader = "X-Rebound-Load-Id"

// runLoad implements "rebound load": concurrent SMTP clients send the
// messages found under PATH round-robin to a listener on loopback and
// measure what it accepts.
func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadOptions
	fs.StringVar(&o.addr, "addr", "127.0.0.1:2525", "listener to load, HOST:PORT on loopback only")
	fs.IntVar(&o.conns, "conns", 8, "concurrent SMTP connections")
	fs.IntVar(&o.count, "count", 1000, "messages to send in all")
	fs.StringVar(&o.rcpt, "rcpt", "bounces@localhost", "envelope recipient")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "stop sending after this long")
	fs.StringVar(&o.acceptedLog, "accepted-log", "", "append the "+loadIDHeader+" of every message answered 250 to FILE")
	fs.StringVar(&o.runID, "run-id", "", "identity prefix of the messages (default random); the same run id and count send the same messages again")
	fs.BoolVar(&o.unique, "unique", true, "add an "+loadIDHeader+" header so every message is distinct")
	fs.BoolVar(&o.reconnect, "reconnect", false, "one connection per message, as smtp-source does by default")
	cfgPath := fs.String("config", "", "configuration file (TOML) of rebound serve: --addr defaults to its listener.listen")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound load [--config FILE] [--addr HOST:PORT] [--conns N] [--count M] [--rcpt ADDRESS] [--duration D]")
		fmt.Fprintln(stderr, "                    [--accepted-log FILE] [--run-id ID] [--unique=false] [--reconnect] PATH...")
		fmt.Fprintln(stderr, "\nExits 1 when any message was not accepted, listing the replies that refused them.")
		fs.PrintDefaults()
	}
	if stop, status := parseFlags(fs, args); stop {
		return status
	}
	if fs.NArg() == 0 || o.conns <= 0 || o.count <= 0 || o.duration <= 0 {
		fs.Usage()
		return 2
	}
	addr := o.addr
	cfg, err := resolveConfig(fs, *cfgPath, overrides{"addr": func(c *config.Config) { c.Listener.Listen = addr }})
	if err != nil {
		fmt.Fprintf(stderr, "rebound load: %v\n", err)
		return 2
	}
	if *cfgPath != "" && strings.HasPrefix(cfg.Listener.Listen, "unix:") {
		fmt.Fprintf(stderr, "rebound load: listener.listen %q is a unix socket; give --addr HOST:PORT\n", cfg.Listener.Listen)
		return 2
	}
	if *cfgPath != "" {
		o.addr = cfg.Listener.Listen
	}
	target, err := loopbackTarget(o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "rebound load: %v\n", err)
		return 2
	}
	o.addr = target
	if o.runID == "" {
		var b [4]byte
		rand.Read(b[:])
		o.runID = hex.EncodeToString(b[:])
	}
	if o.acceptedLog != "" && !o.unique {
		fmt.Fprintln(stderr, "rebound load: --accepted-log needs --unique")
		return 2
	}

	var msgs [][]byte
	in := &mailbox.Reader{Stdin: os.Stdin, MaxSize: 64 << 20}
	in.Each(fs.Args(), func(m mailbox.Message, err error) error {
		if err != nil {
			fmt.Fprintf(stderr, "rebound load: %v\n", err)
			return nil
		}
		msgs = append(msgs, m.Data)
		return nil
	})
	if len(msgs) == 0 {
		fmt.Fprintln(stderr, "rebound load: no messages found")
		return 1
	}
	o.msgs = msgs

	var logw *os.File
	if o.acceptedLog != "" {
		if logw, err = os.OpenFile(o.acceptedLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			fmt.Fprintf(stderr, "rebound load: %v\n", err)
			return 1
		}
	}
	var acceptedLog io.Writer // stays a nil interface without --accepted-log
	if logw != nil {
		acceptedLog = logw
	}
	res := runLoadClients(context.Background(), &o, acceptedLog, stderr)
	if logw != nil {
		if err := logw.Close(); err != nil {
			fmt.Fprintf(stderr, "rebound load: %v\n", err)
		}
	}
	fmt.Fprintln(stdout, res.String())
	writeReplies(stdout, res.replies)
	if res.tempfailed > 0 || res.permfailed > 0 {
		return 1
	}
	return 0
}

// writeReplies lists the distinct replies that refused messages, the most
// frequent first, with their counts:
//
//	451 4.3.0 Temporary storage failure (12)
func writeReplies(w io.Writer, replies map[string]int) {
	keys := make([]string, 0, len(replies))
	for k := range replies {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := replies[b] - replies[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %s (%d)\n", k, replies[k])
	}
}

// replyText is an SMTP error reply on one line: its code, enhanced code
// (RFC 3463) when it had one, and its text.
func replyText(se *smtp.SMTPError) string {
	s := fmt.Sprint(se.Code)
	if ec := se.EnhancedCode; ec[0] > 0 {
		s += fmt.Sprintf(" %d.%d.%d", ec[0], ec[1], ec[2])
	}
	if msg := strings.Join(strings.Fields(se.Message), " "); msg != "" {
		s += " " + msg
	}
	return s
}

type loadOptions struct {
	addr, rcpt, acceptedLog, runID string
	conns, count                   int
	duration                       time.Duration
	unique, reconnect              bool
	msgs                           [][]byte
}

// loadResult counts outcomes; latencies are of accepted messages, from
// MAIL FROM to the reply after the final dot.
type loadResult struct {
	sent, accepted, tempfailed, permfailed, neterrors int
	elapsed                                           time.Duration
	latencies                                         []time.Duration
	// replies counts the error replies by text (replyText); connection
	// errors are counted as "connection error".
	replies map[string]int
}

func (r *loadResult) reply(text string) {
	if r.replies == nil {
		r.replies = map[string]int{}
	}
	r.replies[text]++
}

func (r *loadResult) String() string {
	rate := 0.0
	if r.elapsed > 0 {
		rate = float64(r.accepted) / r.elapsed.Seconds()
	}
	return fmt.Sprintf("load: %d sent, %d accepted (250), %d tempfailed, %d permfailed, %.0f msgs/s, p50 %.1f ms, p99 %.1f ms",
		r.sent, r.accepted, r.tempfailed, r.permfailed, rate, ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// loopbackTarget resolves addr and refuses anything off loopback
// (127.0.0.0/8, ::1): this tool must never load another machine. It
// returns the address to dial, with the host resolved, so that a name
// cannot resolve differently between the check and the dial.
func loopbackTarget(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: want HOST:PORT", addr)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.DefaultResolver.LookupIP(context.Background(), "ip", host)
		if err != nil || len(ips) == 0 {
			return "", fmt.Errorf("--addr %q: cannot resolve %s", addr, host)
		}
		for _, cand := range ips {
			if !cand.IsLoopback() {
				return "", fmt.Errorf("--addr %q: %s is not a loopback address; refusing to load it", addr, cand)
			}
		}
		ip = ips[0]
	}
	if !ip.IsLoopback() {
		return "", fmt.Errorf("--addr %q: %s is not a loopback address (127.0.0.0/8 or ::1); refusing to load it", addr, ip)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

func runLoadClients(ctx context.Context, o *loadOptions, acceptedLog io.Writer, stderr io.Writer) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var next atomic.Int64
	var accepted *idLog
	if acceptedLog != nil {
		accepted = &idLog{w: acceptedLog}
	}
	results := make([]loadResult, o.conns)
	var firstErr sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func(res *loadResult) {
			defer wg.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Quit()
					c.Close()
				}
			}()
			for ctx.Err() == nil {
				seq := int(next.Add(1)) - 1
				if seq >= o.count {
					return
				}
				msg := o.msgs[seq%len(o.msgs)]
				id := fmt.Sprintf("%s-%d", o.runID, seq)
				if o.unique {
					msg = append([]byte(loadIDHeader+": "+id+"\r\n"), msg...)
				}
				res.sent++
				if c == nil {
					var err error
					if c, err = dialLoad(o.addr); err != nil {
						res.neterrors++
						res.tempfailed++
						res.reply("connection error")
						firstErr.Do(func() { fmt.Fprintf(stderr, "rebound load: %v\n", err) })
						time.Sleep(50 * time.Millisecond) // the server may be restarting
						continue
					}
				}
				t0 := time.Now()
				err := sendLoadMessage(c, o.rcpt, msg)
				lat := time.Since(t0)
				var se *smtp.SMTPError
				switch {
				case err == nil:
					res.accepted++
					res.latencies = append(res.latencies, lat)
					if accepted != nil {
						accepted.add(id)
					}
				case errors.As(err, &se) && se.Code/100 == 4:
					res.tempfailed++
					res.reply(replyText(se))
				case errors.As(err, &se) && se.Code/100 == 5:
					res.permfailed++
					res.reply(replyText(se))
				default:
					res.neterrors++
					res.tempfailed++
					res.reply("connection error")
					firstErr.Do(func() { fmt.Fprintf(stderr, "rebound load: %v\n", err) })
				}
				if err != nil && se == nil || se != nil && se.Code == 421 {
					c.Close() // the connection is unusable
					c = nil
				} else if err != nil {
					if c.Reset() != nil {
						c.Close()
						c = nil
					}
				}
				if o.reconnect && c != nil {
					c.Quit()
					c.Close()
					c = nil
				}
			}
		}(&results[w])
	}
	wg.Wait()
	total := &loadResult{elapsed: time.Since(start)}
	for i := range results {
		r := &results[i]
		total.sent += r.sent
		total.accepted += r.accepted
		total.tempfailed += r.tempfailed
		total.permfailed += r.permfailed
		total.neterrors += r.neterrors
		for k, n := range r.replies {
			if total.replies == nil {
				total.replies = map[string]int{}
			}
			total.replies[k] += n
		}
		total.latencies = append(total.latencies, r.latencies...)
	}
	slices.Sort(total.latencies)
	if accepted != nil && accepted.err != nil {
		fmt.Fprintf(stderr, "rebound load: accepted log: %v\n", accepted.err)
	}
	if total.neterrors > 0 {
		fmt.Fprintf(stderr, "rebound load: %d connection errors (counted as tempfailed)\n", total.neterrors)
	}
	return total
}

// idLog is the accepted log: one line per message answered 250, each
// written as it comes and never buffered, so that a load killed mid-run has
// logged every message it saw accepted (a loss check trusts that list).
type idLog struct {
	mu  sync.Mutex
	w   io.Writer
	err error // the first write error; nothing is written after it
}

func (l *idLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		_, l.err = io.WriteString(l.w, id+"\n")
	}
}

func dialLoad(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = 2 * time.Minute
	if err := c.Hello("load.rebound.test"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sendLoadMessage runs one transaction with the null sender (RFC 5321
// section 4.5.5: bounces are sent from <>).
func sendLoadMessage(c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
