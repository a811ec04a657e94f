package masker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the masker's Prometheus metrics.
type Metrics struct {
	pieces   *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	findings *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the masker's metrics with reg; nil means
// unregistered ones.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		pieces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_masker_pieces_total",
			Help: "Pieces of bodies answered, by direction and outcome (ok, error).",
		}, []string{"direction", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_masker_bytes_total",
			Help: "Body bytes masked, by direction.",
		}, []string{"direction"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_masker_findings_total",
			Help: "Secrets found, by direction and rule.",
		}, []string{"direction", "rule"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "airlock_masker_piece_seconds",
			Help:    "Time to mask one piece.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2.5, 12),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.pieces, m.bytes, m.findings, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
