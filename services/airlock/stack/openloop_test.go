package stack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// openLoopResult is one target at one rate in one scenario.
type openLoopResult struct {
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Rate     int     `json:"rate"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	Success  float64 `json:"success"`
	Achieved float64 `json:"achieved_rps"`
}

// BenchmarkOpenLoop drives the upstream directly, nginx and Airlock (every
// service on: OIDC, policy, journal, masking, recording) with the same
// open-loop load — vegeta, requests sent on schedule whatever the answers'
// pace, so that a slow answer delays none after it (no coordinated
// omission) — at fixed rates, in turn, in the same run. Scenarios: a small
// GET allowed; a GET whose answer carries a secret (masked). Rates and
// duration: AIRLOCK_BENCH_RATES (default "500,1000"), AIRLOCK_BENCH_SECONDS
// (default 5). With AIRLOCK_BENCH_RESULTS=dir it writes the table there as
// open-loop.md and open-loop.json.
func BenchmarkOpenLoop(b *testing.B) {
	rates := []int{500, 1000}
	if v := os.Getenv("AIRLOCK_BENCH_RATES"); v != "" {
		rates = nil
		for _, f := range strings.Split(v, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r <= 0 {
				b.Fatalf("AIRLOCK_BENCH_RATES: %q", v)
			}
			rates = append(rates, r)
		}
	}
	seconds := 5
	if v := os.Getenv("AIRLOCK_BENCH_SECONDS"); v != "" {
		var err error
		if seconds, err = strconv.Atoi(v); err != nil || seconds <= 0 {
			b.Fatalf("AIRLOCK_BENCH_SECONDS: %q", v)
		}
	}
	secret := `{"name":"deploy","token":"ghp_8Kq2ZxV7mN4pL9sT3wR6yB1cF5hJ0dGaE2uQ","note":"` + strings.Repeat("x", 800) + `"}`
	small := `{"full_name":"acme/api","private":false,"description":"` + strings.Repeat("y", 900) + `"}`
	ts := newTestStack(b, stackOptions{decisionTimeout: 2 * time.Second, handle: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/secret") {
			_, _ = w.Write([]byte(secret))
			return
		}
		_, _ = w.Write([]byte(small))
	}})
	tok := ts.token(b, "agents")
	targets := []struct{ name, base, auth string }{
		{"direct", ts.up.url, serviceCredential},
		{"nginx", startNginx(b, ts.up.url), serviceCredential},
		{"airlock", ts.IngressURL + "/gh", tok},
	}
	scenarios := []struct{ name, path string }{
		{"GET 1 KiB JSON", "/repos/acme/api"},
		{"GET with a secret (masked)", "/repos/acme/api/secret"},
	}
	var results []openLoopResult
	for range b.N { // one full run; -benchtime 1x
		results = results[:0]
		for _, sc := range scenarios {
			for _, rate := range rates {
				for _, tg := range targets {
					attacker := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Connections(256), vegeta.Timeout(10*time.Second))
					targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: tg.base + sc.path,
						Header: http.Header{"Authorization": {"Bearer " + tg.auth}}})
					var m vegeta.Metrics
					for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, time.Duration(seconds)*time.Second, tg.name) {
						m.Add(res)
					}
					m.Close()
					results = append(results, openLoopResult{Scenario: sc.name, Target: tg.name, Rate: rate,
						P50: ms(m.Latencies.P50), P90: ms(m.Latencies.P90), P99: ms(m.Latencies.P99),
						Success: m.Success, Achieved: m.Throughput})
				}
			}
		}
	}
	b.StopTimer()
	table := openLoopTable(results, seconds)
	b.Log("\n" + table)
	for _, r := range results {
		if r.Target == "airlock" && r.Rate == rates[len(rates)-1] && r.Scenario == scenarios[0].name {
			b.ReportMetric(r.P50, "airlock-p50-ms")
			b.ReportMetric(r.P99, "airlock-p99-ms")
		}
	}
	if dir := os.Getenv("AIRLOCK_BENCH_RESULTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		data, _ := json.MarshalIndent(map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "go": runtime.Version(),
			"cpus": runtime.NumCPU(), "seconds": seconds, "results": results}, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "open-loop.json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "open-loop.md"), []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// openLoopTable renders the results with the latency each target adds to
// direct calls at the same rate.
func openLoopTable(rs []openLoopResult, seconds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Open-loop load, %d s per cell, %s, %d CPUs, %s\n\n", seconds, runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	b.WriteString("| scenario | rate | target | p50 ms | p90 ms | p99 ms | added p50 | added p99 | success | achieved req/s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	direct := map[string]openLoopResult{}
	for _, r := range rs {
		if r.Target == "direct" {
			direct[r.Scenario+"/"+strconv.Itoa(r.Rate)] = r
		}
	}
	for _, r := range rs {
		d := direct[r.Scenario+"/"+strconv.Itoa(r.Rate)]
		fmt.Fprintf(&b, "| %s | %d | %s | %.2f | %.2f | %.2f | %+.2f | %+.2f | %.1f %% | %.0f |\n", r.Scenario, r.Rate, r.Target,
			r.P50, r.P90, r.P99, r.P50-d.P50, r.P99-d.P99, 100*r.Success, r.Achieved)
	}
	return b.String()
}
