package api

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's own: requests by route and status, their latency,
// and the store's gauges.
type metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, a *API) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_api_requests_total",
			Help: "API requests answered, by route and HTTP status.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rebound_api_request_seconds",
			Help:    "Time to answer an API request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.seconds, newStoreCollector(a)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.seconds.WithLabelValues(route).Observe(d.Seconds())
}

// storeCacheTTL is how long the store's gauges are reused: counting a
// million suppressions on every scrape would load the store for nothing.
const storeCacheTTL = 15 * time.Second

// storeCollector reports gauges read from the store: the suppressions in
// force by cause and the open incidents.
type storeCollector struct {
	a           *API
	suppressed  *prometheus.Desc
	openIncid   *prometheus.Desc
	mu          sync.Mutex
	at          time.Time // of the cached values; zero: none
	counts      map[string]int64
	countsOK    bool
	open        int
	openOK      bool
	storeTimout time.Duration
}

func newStoreCollector(a *API) *storeCollector {
	return &storeCollector{
		a: a,
		suppressed: prometheus.NewDesc("rebound_suppressions",
			"Suppressions in force, by cause.", []string{"cause"}, nil),
		openIncid: prometheus.NewDesc("rebound_incidents_open",
			"Sending-side incidents open.", nil, nil),
		storeTimout: 5 * time.Second,
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.suppressed
	ch <- c.openIncid
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.at.IsZero() || now.Sub(c.at) >= storeCacheTTL {
		c.refresh()
		c.at = now
	}
	if c.countsOK {
		for _, cause := range causes {
			ch <- prometheus.MustNewConstMetric(c.suppressed, prometheus.GaugeValue, float64(c.counts[cause]), cause)
		}
	}
	if c.openOK {
		ch <- prometheus.MustNewConstMetric(c.openIncid, prometheus.GaugeValue, float64(c.open))
	}
}

// refresh reads the gauges; one the store cannot answer is left out of
// the scrape (and logged) rather than reported as zero.
func (c *storeCollector) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), c.storeTimout)
	defer cancel()
	now := c.a.now()
	counts, err := c.a.store.SuppressionCounts(ctx, now)
	c.counts, c.countsOK = counts, err == nil
	if err != nil {
		c.a.log.Warn("metrics: counting suppressions", "err", err)
	}
	incs, err := c.a.store.Incidents(ctx, true, now)
	c.open, c.openOK = len(incs), err == nil
	if err != nil {
		c.a.log.Warn("metrics: listing open incidents", "err", err)
	}
}
