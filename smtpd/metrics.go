package smtpd

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/record"
)

// Metrics are the Prometheus metrics of a listener. They are registered on
// a registry the caller owns, so that several listeners (and tests) never
// share state through the process-wide default registry.
type Metrics struct {
	received      prometheus.Counter
	stored        prometheus.Counter
	duplicates    prometheus.Counter
	unrecognized  prometheus.Counter
	tempfailed    prometheus.Counter
	records       *prometheus.CounterVec
	saveSeconds   prometheus.Histogram
	connections   prometheus.Gauge
	connsRejected *prometheus.CounterVec
	dataInFlight  prometheus.Gauge
	budgetRefused *prometheus.CounterVec
	spooled       prometheus.Counter
	truncated     prometheus.Counter
	parseFailed   *prometheus.CounterVec
	replies       *prometheus.CounterVec
	rateLimited   prometheus.Counter
	returnPaths   *prometheus.CounterVec
	recordsAuth   *prometheus.CounterVec
	// replied250 is replies' counter of code 250, looked up once: it is
	// counted for nearly every message.
	replied250 prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, still counted).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_received_total",
			Help: "Messages whose DATA was read completely.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_stored_total",
			Help: "Messages durably stored and answered 250 (duplicates included).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_duplicate_total",
			Help: "Stored messages that had been stored before (their records were not added again).",
		}),
		unrecognized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_unrecognized_total",
			Help: "Stored messages without records: not bounces, or messages that could not be decoded (see rebound_smtp_messages_parse_failed_total).",
		}),
		tempfailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_tempfailed_total",
			Help: "Messages answered 451 because they could not be stored.",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_records_total",
			Help: "Bounce records stored, by class, reason and confidence of the verdict (duplicates not counted).",
		}, []string{"class", "reason", "confidence"}),
		saveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rebound_store_save_seconds",
			Help:    "Time for the store to save one message durably.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rebound_smtp_connections",
			Help: "Open SMTP connections.",
		}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_smtp_connections_rejected_total",
			Help: "Connections refused with 421 because of a connection limit.",
		}, []string{"limit"}),
		dataInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rebound_smtp_data_bytes_in_flight",
			Help: "Bytes of message data held by the transactions in flight, in memory or spooled (the data budget in use).",
		}),
		budgetRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_smtp_budget_refused_total",
			Help: "Transactions answered 452 4.3.1 because the data budget was exhausted, at MAIL or during the data.",
		}, []string{"stage"}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_spooled_total",
			Help: "Messages received into a spool file rather than memory (over the spool threshold).",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_reports_truncated_total",
			Help: "Stored reports that named more recipients than are recorded (max_report_recipients).",
		}),
		parseFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_parse_failed_total",
			Help: "Messages the decoder failed on, stored as unrecognized: by error (a malformed message) or panic (a decoder bug, recovered).",
		}, []string{"kind"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_smtp_replies_total",
			Help: "Final replies to transactions, by reply code: to the data (250 stored, 451/452 tempfailed, 5xx refused) and refusals of MAIL and RCPT.",
		}, []string{"code"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rebound_smtp_messages_rate_limited_total",
			Help: "Transactions refused at MAIL because their client exceeded messages_per_minute_per_ip (connections over their rate count in rebound_smtp_connections_rejected_total{limit=\"rate\"}).",
		}),
		returnPaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_smtp_signed_return_paths_total",
			Help: "Recipients that claim to be signed return paths, by verification result: pass, or why not (format, unknown_key, bad_tag, expired, unknown_token, lookup_failed).",
		}, []string{"result"}),
		recordsAuth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_records_auth_total",
			Help: "Bounce records stored, by how they were tied to mail the sender sent (auth: verp, sent, dkim, trusted, none, failed).",
		}, []string{"auth"}),
	}
	m.replied250 = m.replies.WithLabelValues("250")
	if reg != nil {
		reg.MustRegister(m.received, m.stored, m.duplicates, m.unrecognized, m.tempfailed,
			m.records, m.saveSeconds, m.connections, m.connsRejected,
			m.dataInFlight, m.budgetRefused, m.spooled, m.truncated,
			m.parseFailed, m.replies, m.rateLimited, m.returnPaths, m.recordsAuth)
	}
	return m
}

// countReply counts a final reply by its code.
func (m *Metrics) countReply(code int) {
	if code == 250 {
		m.replied250.Inc()
		return
	}
	m.replies.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (m *Metrics) countRecords(recs []record.Record) {
	for i := range recs {
		m.records.WithLabelValues(recs[i].Class, recs[i].Reason, recs[i].Confidence).Inc()
		if a := recs[i].Auth; a != "" {
			m.recordsAuth.WithLabelValues(a).Inc()
		}
	}
}
