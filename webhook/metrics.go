package webhook

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/store"
)

// metrics are the Deliverer's Prometheus collectors.
type metrics struct {
	deliveries *prometheus.CounterVec
	seconds    *prometheus.HistogramVec
	depth      *prometheus.GaugeVec
	dead       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, eps []*endpoint) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_webhook_deliveries_total",
			Help: "Webhook delivery attempts by endpoint and outcome (delivered, failed, dead).",
		}, []string{"endpoint", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rebound_webhook_delivery_seconds",
			Help:    "Duration of webhook delivery attempts, from sending to the end of the answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"endpoint"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rebound_webhook_outbox_depth",
			Help: "Outbox events after the endpoint's cursor (newest event ID minus the cursor).",
		}, []string{"endpoint"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_webhook_dead_letters_total",
			Help: "Events moved to an endpoint's dead letters after their last failed attempt.",
		}, []string{"endpoint"}),
	}
	for _, ep := range eps {
		for _, o := range []string{store.OutcomeDelivered, store.OutcomeFailed, store.OutcomeDead} {
			m.deliveries.WithLabelValues(ep.Name, o)
		}
		m.seconds.WithLabelValues(ep.Name)
		m.depth.WithLabelValues(ep.Name)
		m.dead.WithLabelValues(ep.Name)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.seconds, m.depth, m.dead} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
