package recorder

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the recorder's Prometheus metrics.
type Metrics struct {
	records *prometheus.CounterVec
	write   prometheus.Histogram
	lag     prometheus.Gauge
	chained prometheus.Counter
	active  prometheus.Gauge
}

// NewMetrics registers the recorder's metrics with reg; nil means
// unregistered ones.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_recorder_records_total",
			Help: "Records by result: written (in the store, events acked), retried (the store refused: the events wait in JetStream).",
		}, []string{"result"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "airlock_recorder_write_seconds",
			Help:    "Writing one record: fetching its bodies, encoding, and the store's put.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_recorder_lag_events",
			Help: "Events of the AIRLOCK stream not yet recorded: not yet delivered to the recorder, or delivered and not yet acked (refreshed every second).",
		}),
		chained: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_recorder_chained_events_total",
			Help: "Audit events appended to the hash chain in the store.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_recorder_active",
			Help: "1 while this replica holds the recorder's lease and records; 0 while it stands by. Across replicas the sum is 1.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.write, m.lag, m.chained, m.active} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) recorded(result string, took time.Duration) {
	if m != nil {
		m.records.WithLabelValues(result).Inc()
		m.write.Observe(took.Seconds())
	}
}

func (m *Metrics) lagging(n uint64) {
	if m != nil {
		m.lag.Set(float64(n))
	}
}

func (m *Metrics) chain(n int) {
	if m != nil {
		m.chained.Add(float64(n))
	}
}

func (m *Metrics) activate(on bool) {
	if m != nil {
		if on {
			m.active.Set(1)
		} else {
			m.active.Set(0)
		}
	}
}
