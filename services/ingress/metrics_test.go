package ingress

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/ingress/identity"
)

// gateway is an ingress on a real embedded bus, with a dev issuer, an
// upstream, and a stand-in for the policy service that allows paths
// starting with /allowed and denies the rest.
type gateway struct {
	srv    *Server
	nc     *nats.Conn
	reg    *prometheus.Registry
	m      *Metrics
	url    string
	issuer *devissuer.Issuer
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	bus := bustest.Start(t)

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(upstream.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := "http://" + ln.Addr().String()
	iss, err := devissuer.Open(t.TempDir(), issuerURL, "airlock")
	if err != nil {
		t.Fatal(err)
	}
	issSrv := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: time.Second}
	go func() { _ = issSrv.Serve(ln) }()
	t.Cleanup(func() { _ = issSrv.Close() })

	// The policy service's stand-in answers on core NATS.
	policyNC, _ := bus.Connect(t, "policy")
	if _, err := policyNC.Subscribe(subject.RequestPrefix+">", func(m *nats.Msg) {
		var req event.Request
		if err := json.Unmarshal(m.Data, &req); err != nil {
			t.Errorf("request event: %v", err)
			return
		}
		v := event.Verdict{V: event.Version, ID: req.ID, Time: time.Now().UTC(), Effect: event.EffectDeny, Rule: "no"}
		if strings.HasPrefix(req.Path, "/allowed") {
			v.Effect, v.Rule = event.EffectAllow, "yes"
		}
		data, _ := json.Marshal(v)
		_ = policyNC.Publish(subject.Verdict(req.ID), data)
	}); err != nil {
		t.Fatal(err)
	}
	if err := policyNC.Flush(); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Parse([]byte(fmt.Sprintf(`
identity: {dev_issuer: {enabled: true}}
ingress: {decision_timeout: 5s}
connections:
  - {name: demo, type: http, upstream: %q, credential: {value: svc-credential}, masking: false}
policies: [unused.yaml]
`, upstream.URL)))
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := bus.Connect(t, "ingress")
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	verifier := identity.New([]config.Issuer{{URL: issuerURL, Audiences: []string{"airlock"},
		GroupsClaim: "groups", Algorithms: []string{"RS256"}}}, time.Minute, nil)
	srv, err := New(cfg, nc, verifier, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &gateway{srv: srv, nc: nc, reg: reg, m: m, url: hs.URL, issuer: iss}
}

func (g *gateway) get(t *testing.T, path string, token bool) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token {
		tok, err := g.issuer.Sign(devissuer.Claims{Subject: "copilot", Groups: []string{"agents"}})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// histogramCount is how many observations the histogram named name holds
// in the series with the given labels.
func histogramCount(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func TestMetricsMoveAfterRequests(t *testing.T) {
	g := startGateway(t)
	for _, tt := range []struct {
		path   string
		token  bool
		status int
	}{
		{"/demo/allowed/1", true, http.StatusOK},
		{"/demo/allowed/2", true, http.StatusOK},
		{"/demo/denied", true, http.StatusForbidden},
		{"/demo/allowed/3", false, http.StatusUnauthorized},
		{"/nowhere/x", true, http.StatusNotFound},
	} {
		if got := g.get(t, tt.path, tt.token); got != tt.status {
			t.Fatalf("GET %s = %d, want %d", tt.path, got, tt.status)
		}
	}

	counters := []struct {
		connection, decision string
		want                 float64
	}{
		{"demo", event.EffectAllow, 2},
		{"demo", event.EffectDeny, 1},
		{"demo", event.DecisionUnauthenticated, 1},
		{"demo", event.DecisionError, 0},
		{unroutedConnection, decisionUnrouted, 1},
	}
	for _, c := range counters {
		if got := testutil.ToFloat64(g.m.requests.WithLabelValues(c.connection, c.decision)); got != c.want {
			t.Errorf("airlock_ingress_requests_total{connection=%q,decision=%q} = %v, want %v", c.connection, c.decision, got, c.want)
		}
	}
	histograms := []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"airlock_ingress_request_duration_seconds", map[string]string{"connection": "demo"}, 4},
		{"airlock_ingress_decision_wait_seconds", nil, 3},
		{"airlock_ingress_upstream_duration_seconds", map[string]string{"connection": "demo"}, 2},
	}
	for _, h := range histograms {
		if got := histogramCount(t, g.reg, h.name, h.labels); got != h.want {
			t.Errorf("%s%v has %d observations, want %d", h.name, h.labels, got, h.want)
		}
	}
	if got := testutil.ToFloat64(g.m.inFlight); got != 0 {
		t.Errorf("airlock_ingress_requests_in_flight = %v after the requests, want 0", got)
	}
	if n, err := testutil.GatherAndCount(g.reg, "airlock_ingress_upstream_errors_total"); err != nil || n != 1 {
		t.Errorf("upstream_errors_total series = %d, %v; want 1 (demo, at 0)", n, err)
	}
}

func TestRecordingARequestDoesNotAllocate(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cm := m.connection("demo")
	start := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		m.inFlight.Inc()
		cm.count(event.EffectAllow)
		observeSince(cm.duration, start)
		observeSince(cm.upstream, start)
		observeSince(m.decisionWait, start)
		m.inFlight.Dec()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
}

func TestReadyzFailsWhenTheBusIsClosed(t *testing.T) {
	g := startGateway(t)
	admin := httptest.NewServer(admin.Handler(g.reg, g.srv.Ready))
	t.Cleanup(admin.Close)
	status := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, base := range []string{admin.URL, g.url} {
		if code, body := status(base, "/readyz"); code != http.StatusOK {
			t.Fatalf("%s/readyz = %d %s before the bus closed, want 200", base, code, body)
		}
	}
	if code, body := status(admin.URL, "/metrics"); code != http.StatusOK || !strings.Contains(body, "airlock_ingress_requests_in_flight") {
		t.Fatalf("/metrics = %d, lacks the ingress metrics:\n%s", code, body)
	}

	g.nc.Close()
	for _, base := range []string{admin.URL, g.url} {
		if code, body := status(base, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, errBusDisconnected.Error()) {
			t.Errorf("%s/readyz = %d %s after the bus closed, want 503 %q", base, code, body, errBusDisconnected)
		}
	}
	if code, _ := status(admin.URL, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200: the process is alive", code)
	}
}
