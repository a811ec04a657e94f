package approver

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the approver's Prometheus metrics.
type Metrics struct {
	approvals *prometheus.CounterVec
	wait      prometheus.Histogram
}

// NewMetrics registers the approver's metrics with reg; nil means
// unregistered ones.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		approvals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_approver_events_total",
			Help: "Held requests by what happened: requested (a human asked), granted (passed under a grant), approved, denied, revoked, refused (an interaction refused).",
		}, []string{"event"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "airlock_approver_decision_seconds",
			Help:    "From asking a human to their decision.",
			Buckets: prometheus.ExponentialBuckets(1, 2.5, 10),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.approvals, m.wait} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) count(event string) {
	if m != nil {
		m.approvals.WithLabelValues(event).Inc()
	}
}
