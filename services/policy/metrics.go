package policy

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// EvalBuckets are the bounds, in seconds, of the evaluation histogram:
// classification and the rules take microseconds; the cost limit stops
// them long before the last bound.
var EvalBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
}

// MaxRuleSeries caps the series of airlock_policy_verdicts_total. Rule
// names come from the policy files, so they are bounded by the sets loaded
// since start; a process that sees more distinct (effect, rule) pairs than
// this, through many pushes, counts the rest under the rule "_other".
const MaxRuleSeries = 1000

// Rule labels that are no rule's name: rule names start with a letter or a
// digit (package rules), so these cannot collide with one.
const (
	// ruleNone labels a verdict no rule decided: deny by default.
	ruleNone = "_none"
	// ruleOther labels verdicts past MaxRuleSeries.
	ruleOther = "_other"
)

// Metrics are the policy service's Prometheus metrics. Make them with
// NewMetrics; one Metrics may serve successive Services (a restarted
// policy service in `airlock up`).
type Metrics struct {
	verdicts *prometheus.CounterVec
	eval     prometheus.Histogram

	mu     sync.RWMutex
	series map[verdictKey]prometheus.Counter
}

type verdictKey struct{ effect, rule string }

// NewMetrics makes the policy service's metrics and registers them on reg.
// A nil reg keeps them unregistered: counted, never exposed.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "airlock", Subsystem: "policy", Name: "verdicts_total",
			Help: `Verdicts published, by effect and deciding rule ("_none": no rule matched, denied by default).`,
		}, []string{"effect", "rule"}),
		eval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "airlock", Subsystem: "policy", Name: "evaluation_duration_seconds",
			Help:    "Time to classify a request and evaluate the rules on it.",
			Buckets: EvalBuckets,
		}),
		series: map[verdictKey]prometheus.Counter{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.verdicts, m.eval} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering policy metrics: %w", err)
		}
	}
	return m, nil
}

// verdict counts a published verdict. The counter of each (effect, rule)
// is looked up once, then read from a map without allocating.
func (m *Metrics) verdict(effect, rule string) {
	if rule == "" {
		rule = ruleNone
	}
	k := verdictKey{effect, rule}
	m.mu.RLock()
	c, ok := m.series[k]
	m.mu.RUnlock()
	if !ok {
		c = m.counter(k)
	}
	c.Inc()
}

func (m *Metrics) counter(k verdictKey) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.series[k]; ok {
		return c
	}
	if len(m.series) >= MaxRuleSeries {
		other := verdictKey{k.effect, ruleOther}
		if c, ok := m.series[other]; ok {
			return c
		}
		k = other // one more series per effect, at most
	}
	c := m.verdicts.WithLabelValues(k.effect, k.rule)
	m.series[k] = c
	return c
}
