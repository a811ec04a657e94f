package policy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/services/policy/rules"
)

func TestVerdictMetrics(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	for _, req := range []*event.Request{
		request("GET", "/repos/acme/api"),
		request("GET", "/repos/acme/api/pulls"),
		request("DELETE", "/repos/acme/api"),
		request("PATCH", "/repos/acme/api"),
	} {
		h.publish(t, req, req.ID)
		h.verdict(t, req.ID)
	}
	h.settled(t) // every verdict counted: the count precedes the ack

	for _, tt := range []struct {
		effect, rule string
		want         float64
	}{
		{event.EffectAllow, "allow-agent-reads", 2},
		{event.EffectDeny, "deny-deletes", 1},
		{event.EffectDeny, ruleNone, 1},
	} {
		if got := testutil.ToFloat64(h.svc.metrics.verdicts.WithLabelValues(tt.effect, tt.rule)); got != tt.want {
			t.Errorf("airlock_policy_verdicts_total{effect=%q,rule=%q} = %v, want %v", tt.effect, tt.rule, got, tt.want)
		}
	}
	var pb dto.Metric
	if err := h.svc.metrics.eval.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if got := pb.GetHistogram().GetSampleCount(); got != 4 {
		t.Errorf("airlock_policy_evaluation_duration_seconds has %d observations, want 4", got)
	}
}

func TestVerdictSeriesAreCapped(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxRuleSeries + 10 {
		m.verdict(event.EffectDeny, fmt.Sprintf("rule-%d", i))
	}
	m.verdict(event.EffectDeny, "rule-0") // an existing series stays itself
	if got := testutil.CollectAndCount(m.verdicts); got != MaxRuleSeries+1 {
		t.Errorf("%d series, want %d", got, MaxRuleSeries+1)
	}
	if got := testutil.ToFloat64(m.verdicts.WithLabelValues(event.EffectDeny, ruleOther)); got != 10 {
		t.Errorf("_other = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.verdicts.WithLabelValues(event.EffectDeny, "rule-0")); got != 2 {
		t.Errorf("rule-0 = %v, want 2", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { m.verdict(event.EffectDeny, "rule-1") }); allocs != 0 {
		t.Errorf("%v allocations per counted verdict, want 0", allocs)
	}
}

func TestReadyWhileConsuming(t *testing.T) {
	srv := bustest.Start(t)
	nc, js := srv.Connect(t, "policy")
	set, err := rules.Load([]string{"testdata/service.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(js, set, slog.New(slog.DiscardHandler), m)
	admin := httptest.NewServer(admin.Handler(reg, svc.Ready))
	t.Cleanup(admin.Close)
	readyz := func() int {
		t.Helper()
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for readyz() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never answered %d (Ready: %v)", want, svc.Ready())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d before Run, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	waitFor(http.StatusOK)

	nc.Close()
	waitFor(http.StatusServiceUnavailable)
	if err := svc.Ready(); err != errBusDisconnected {
		t.Errorf("Ready() = %v, want %v", err, errBusDisconnected)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(); err == nil {
		t.Error("ready after Run returned")
	}
}
