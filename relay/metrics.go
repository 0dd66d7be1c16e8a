package relay

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Forwarder's Prometheus collectors.
type metrics struct {
	sent, retried, failed prometheus.Counter
	depth                 prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_relay_sent_total",
			Help: "Messages that are no report forwarded to the relay upstream.",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_relay_retried_total",
			Help: "Failed attempts at forwarding a message that will be tried again.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_relay_failed_total",
			Help: "Messages given up: refused by the upstream (5xx) or out of attempts.",
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rebound_relay_queue_depth",
			Help: "Messages queued for the relay upstream, due or waiting for a retry.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sent, m.retried, m.failed, m.depth} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
