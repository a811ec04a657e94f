package ingress

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlockhq/airlock/pkg/event"
)

// LatencyBuckets are the bounds, in seconds, of the ingress's latency
// histograms: from 100µs (a refusal the gateway makes itself) to 60s (a
// slow upstream, a large body).
var LatencyBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// Decisions counted by airlock_ingress_requests_total beyond those of the
// audit event: a request that matched no connection.
const decisionUnrouted = "unrouted"

// unroutedConnection is the connection label of a request that matched no
// connection. Connection names start with a letter or digit, so it cannot
// name one.
const unroutedConnection = "_none"

// Metrics are the ingress's Prometheus metrics. Make them with NewMetrics.
type Metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	decisionWait   prometheus.Histogram
	upstream       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	inFlight       prometheus.Gauge
	held           prometheus.Gauge
	journal        *prometheus.CounterVec
	unrouted       prometheus.Counter
}

// NewMetrics makes the ingress's metrics and registers them on reg. A nil
// reg keeps them unregistered: counted, never exposed.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "requests_total",
			Help: "Agent requests by connection and decision (allow, deny, approve, unauthenticated, error, unrouted).",
		}, []string{"connection", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by connection.",
			Buckets: LatencyBuckets,
		}, []string{"connection"}),
		decisionWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "decision_wait_seconds",
			Help:    "Time a request waits for its verdict: storing a large body, publishing the request event, and waiting for the verdict or giving up.",
			Buckets: LatencyBuckets,
		}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "upstream_duration_seconds",
			Help:    "Time from forwarding an allowed request to the upstream's response headers, by connection.",
			Buckets: LatencyBuckets,
		}, []string{"connection"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "upstream_errors_total",
			Help: "Allowed requests the upstream did not answer (refused, broken, timed out), by connection.",
		}, []string{"connection"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "requests_in_flight",
			Help: "Agent requests being handled now.",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "requests_held",
			Help: "Requests held now for a human's approval (pending approvals, as the data path sees them).",
		}),
		journal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "airlock", Subsystem: "ingress", Name: "events_republished_total",
			Help: "Response and audit events whose first publish failed, by result: stored (a retry was acked) or lost (retries gave up after the duplicate window).",
		}, []string{"result"}),
	}
	m.unrouted = m.requests.WithLabelValues(unroutedConnection, decisionUnrouted)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.decisionWait, m.upstream, m.upstreamErrors, m.inFlight, m.held, m.journal} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering ingress metrics: %w", err)
		}
	}
	return m, nil
}

// connMetrics are one connection's series, looked up once when the
// connection is built so that a request costs no label lookup.
type connMetrics struct {
	allow, deny, approve, unauthenticated, errored prometheus.Counter
	duration, upstream                             prometheus.Observer
	upstreamErrors                                 prometheus.Counter
}

func (m *Metrics) connection(name string) *connMetrics {
	req := m.requests.MustCurryWith(prometheus.Labels{"connection": name})
	return &connMetrics{
		allow:           req.WithLabelValues(event.EffectAllow),
		deny:            req.WithLabelValues(event.EffectDeny),
		approve:         req.WithLabelValues(event.EffectApprove),
		unauthenticated: req.WithLabelValues(event.DecisionUnauthenticated),
		errored:         req.WithLabelValues(event.DecisionError),
		duration:        m.duration.WithLabelValues(name),
		upstream:        m.upstream.WithLabelValues(name),
		upstreamErrors:  m.upstreamErrors.WithLabelValues(name),
	}
}

// count records a finished request with its audit decision.
func (c *connMetrics) count(decision string) {
	switch decision {
	case event.EffectAllow:
		c.allow.Inc()
	case event.EffectDeny:
		c.deny.Inc()
	case event.EffectApprove:
		c.approve.Inc()
	case event.DecisionUnauthenticated:
		c.unauthenticated.Inc()
	default:
		c.errored.Inc()
	}
}

// observeSince records the time since start; deferred as
// `defer observeSince(h, time.Now())`, it allocates nothing.
func observeSince(o prometheus.Observer, start time.Time) {
	o.Observe(time.Since(start).Seconds())
}
