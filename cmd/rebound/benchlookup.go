package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
)

// benchDomain is the domain of the addresses "rebound bench-lookup" seeds
// and asks for: bench-N@benchDomain.
const benchDomain = "bench.rebound.invalid"

// benchAddress is the n-th address of the benchmark's address space.
func benchAddress(n int) string { return fmt.Sprintf("bench-%d@%s", n, benchDomain) }

// lookupOptions are the flags of "rebound bench-lookup".
type lookupOptions struct {
	url      string
	token    string
	rate     int
	duration time.Duration
	warmup   time.Duration
	workers  int
	space    int
	asJSON   bool
	seed     int
	db       string
}

// lookupResult is what one run measured. Latencies are measured from when
// each request was due, not when it was sent, so that a stalled server
// shows in them instead of slowing the load (no coordinated omission).
type lookupResult struct {
	Rate       int                `json:"rate"`
	Duration   string             `json:"duration"`
	Requests   int                `json:"requests"`
	Suppressed int                `json:"suppressed"` // 200 answers
	NotFound   int                `json:"not_suppressed"`
	Errors     int                `json:"errors"` // any other answer, or none
	FirstError string             `json:"first_error,omitempty"`
	Achieved   float64            `json:"achieved_rate"`
	Millis     map[string]float64 `json:"latency_ms"` // p50, p90, p99, p99.9, max
}

// runBenchLookup implements "rebound bench-lookup": an open-loop load of
// GET /v1/suppressions/{address} at a fixed rate against a running API,
// reporting latency percentiles. "rebound suppressions seed" fills a store
// with the addresses it asks for.
func runBenchLookup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-lookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o lookupOptions
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8025", "base URL of the API")
	fs.StringVar(&o.token, "token", "", "bearer token with the read scope (default: $"+config.TokenEnv+")")
	fs.IntVar(&o.rate, "rate", 1000, "requests per second")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to measure")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "load before measuring, not counted")
	fs.IntVar(&o.workers, "workers", 64, "concurrent connections")
	fs.IntVar(&o.space, "addresses", 2_000_000, "ask for bench-N@"+benchDomain+" with N uniform in [0, addresses)")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	fs.IntVar(&o.seed, "seed", 0, "instead of measuring, suppress bench-0 ... bench-(N-1)@"+benchDomain+" in the store of --db")
	fs.StringVar(&o.db, "db", "", "store to seed (SQLite path or postgres:// URL), with --seed (default: the configuration's store.url)")
	cfgPath := fs.String("config", "", "configuration file (TOML) of rebound serve: --url defaults to its api.listen, --token to one of its tokens with the read scope")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound bench-lookup [--config FILE] [--url URL] [--token T] [--rate N] [--duration D] [--warmup D]")
		fmt.Fprintln(stderr, "                            [--workers N] [--addresses N] [--json]")
		fmt.Fprintln(stderr, "       rebound bench-lookup --seed N [--config FILE] [--db PATH-or-URL]")
		fmt.Fprintln(stderr, "\nSeed the store first (with rebound serve stopped, for SQLite), then measure against")
		fmt.Fprintln(stderr, "rebound serve on that store; --addresses twice the seed asks for half suppressed addresses.")
		fs.PrintDefaults()
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}
	if *cfgPath != "" {
		db := o.db
		cfg, err := resolveConfig(fs, *cfgPath, overrides{"db": func(c *config.Config) { c.Store.URL = db }})
		if err == nil {
			err = cfg.ResolveSecrets(os.Getenv)
		}
		if err != nil {
			return failf(stderr, "bench-lookup", "%v", err)
		}
		o.db = cfg.Store.URL
		if !flagGiven(fs, "url") && cfg.API.Listen != "" {
			scheme := "http"
			if cfg.API.TLSCert != "" {
				scheme = "https"
			}
			o.url = scheme + "://" + cfg.API.Listen
		}
		if !flagGiven(fs, "token") {
			for _, t := range cfg.API.Tokens {
				if slices.Contains(t.Scopes, config.ScopeRead) {
					o.token = t.Token
					break
				}
			}
		}
	}
	if o.seed > 0 {
		if o.db == "" {
			return failf(stderr, "bench-lookup", "--seed needs --db")
		}
		start := time.Now()
		if err := seedSuppressions(context.Background(), o.db, o.seed, stderr); err != nil {
			return failf(stderr, "bench-lookup", "seeding: %v", err)
		}
		fmt.Fprintf(stdout, "%d suppressions in %s (%.0f/s)\n", o.seed, time.Since(start).Round(time.Millisecond),
			float64(o.seed)/time.Since(start).Seconds())
		return 0
	}
	if o.token == "" {
		o.token = os.Getenv(config.TokenEnv)
	}
	if o.token == "" {
		return failf(stderr, "bench-lookup", "no token: give --token or set %s", config.TokenEnv)
	}
	if o.rate <= 0 || o.workers <= 0 || o.space <= 0 || o.duration <= 0 || o.warmup < 0 {
		return failf(stderr, "bench-lookup", "--rate, --workers, --addresses and --duration must be positive")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failf(stderr, "bench-lookup", "--url %q: want http://HOST:PORT", o.url)
	} else if _, err := loopbackTarget(u.Host); err != nil {
		return failf(stderr, "bench-lookup", "--url %q: the API must be on loopback, with its port", o.url)
	}
	res, err := benchLookup(context.Background(), o)
	if err != nil {
		return failf(stderr, "bench-lookup", "%v", err)
	}
	if o.asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "%d requests in %s at %.0f/s (asked %d/s): %d suppressed, %d not, %d errors\n",
			res.Requests, res.Duration, res.Achieved, res.Rate, res.Suppressed, res.NotFound, res.Errors)
		fmt.Fprintf(stdout, "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
			res.Millis["p50"], res.Millis["p90"], res.Millis["p99"], res.Millis["p99.9"], res.Millis["max"])
		if res.FirstError != "" {
			fmt.Fprintf(stdout, "first error: %s\n", res.FirstError)
		}
	}
	if res.Errors > 0 {
		return 1
	}
	return 0
}

// seedSuppressions suppresses the first n addresses of the benchmark's
// space by hand, through the store's own writes (concurrent, so that the
// store commits them in groups).
func seedSuppressions(ctx context.Context, db string, n int, progress io.Writer) error {
	st, err := openStore(ctx, db, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	var next atomic.Int64
	var done atomic.Int64
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	since := time.Now().UTC()
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := st.AddSuppression(ctx, store.Suppression{Address: benchAddress(i), Reason: "benchmark",
					Since: since, Actor: "bench-lookup", Note: "seeded for the lookup benchmark"})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					next.Store(int64(n))
					return
				}
				if d := done.Add(1); d%100000 == 0 {
					fmt.Fprintf(progress, "%d of %d\n", d, n)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// benchLookup runs the load: requests are due every 1/rate from the start;
// workers take them in order, and each one's latency runs from when it was
// due to when its answer was read.
func benchLookup(ctx context.Context, o lookupOptions) (*lookupResult, error) {
	base := strings.TrimRight(o.url, "/") + "/v1/suppressions/"
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        o.workers,
			MaxIdleConnsPerHost: o.workers,
			IdleConnTimeout:     time.Minute,
		},
	}
	defer client.CloseIdleConnections()
	// One request first, so that a wrong URL or token fails at once.
	if _, err := lookupOnce(ctx, client, base+url.PathEscape(benchAddress(0)), o.token); err != nil {
		return nil, err
	}

	interval := time.Second / time.Duration(o.rate)
	total := int((o.warmup + o.duration) / interval)
	warm := int(o.warmup / interval)
	type job struct {
		i    int
		due  time.Time
		addr string
	}
	jobs := make(chan job, o.workers*4)
	lat := make([]time.Duration, total)
	codes := make([]int, total)
	var (
		mu       sync.Mutex
		firstErr string
	)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() {
			for j := range jobs {
				i := j.i
				code, err := lookupOnce(ctx, client, j.addr, o.token)
				lat[i] = time.Since(j.due)
				codes[i] = code
				if err != nil {
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		addr := base + url.PathEscape(benchAddress(rng.IntN(o.space)))
		jobs <- job{i: i, due: due, addr: addr}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start.Add(time.Duration(warm) * interval))

	res := &lookupResult{Rate: o.rate, Duration: o.duration.String(), FirstError: firstErr}
	measured := slices.Clone(lat[warm:])
	for _, c := range codes[warm:] {
		res.Requests++
		switch c {
		case http.StatusOK:
			res.Suppressed++
		case http.StatusNotFound:
			res.NotFound++
		default:
			res.Errors++
		}
	}
	res.Achieved = float64(res.Requests) / elapsed.Seconds()
	slices.Sort(measured)
	res.Millis = map[string]float64{}
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p99.9", 0.999}, {"max", 1}} {
		res.Millis[p.name] = float64(quantile(measured, p.q)) / float64(time.Millisecond)
	}
	return res, nil
}

// quantile is the q-quantile of sorted (nearest rank), 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// lookupOnce asks for one address: 200 (suppressed) and 404 (not) are
// answers; anything else is an error.
func lookupOnce(ctx context.Context, client *http.Client, u, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotFound:
		return resp.StatusCode, nil
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return resp.StatusCode, errors.New(resp.Status + ": " + msg)
}
