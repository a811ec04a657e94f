package stack

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkSoak is `make soak`: Airlock (`airlock up`, everything on) at
// 70 % of the rate it saturates at, for AIRLOCK_SOAK_DURATION (default
// 10m; make soak sets it), on a mix of small GETs, GETs whose answer is masked and 64 KiB
// POSTs. Each minute it reports success, latency and the process's
// resident and Go heap memory. It fails on any error, or when memory at
// the end is more than 1.5 times what it was after the first minute.
// Not part of CI.
func BenchmarkSoak(b *testing.B) {
	bin, soak := os.Getenv("AIRLOCK_BENCH_BIN"), os.Getenv("AIRLOCK_SOAK_DURATION")
	if bin == "" || soak == "" {
		b.Skip("AIRLOCK_BENCH_BIN or AIRLOCK_SOAK_DURATION is not set: run `make soak`")
	}
	duration, err := time.ParseDuration(soak)
	if err != nil {
		b.Fatalf("AIRLOCK_SOAK_DURATION: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	upAddr := freePort(b)
	startProcess(b, "upstream", "http://"+upAddr+"/repos/acme/api", []string{benchUpstreamEnv + "=" + upAddr}, self)
	airlock, base, token := startAirlock(b, filepath.Join(bin, "airlock"), "http://"+upAddr)
	header := http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
	post := []byte(`{"title":"soak","body":"` + strings.Repeat("s", 64<<10-32) + `"}`)
	targeter := vegeta.NewStaticTargeter(
		vegeta.Target{Method: "GET", URL: base + "/repos/acme/api", Header: header},
		vegeta.Target{Method: "GET", URL: base + "/repos/acme/api/contents/secret.json", Header: header},
		vegeta.Target{Method: "GET", URL: base + "/repos/acme/api", Header: header},
		vegeta.Target{Method: "POST", URL: base + "/repos/acme/sandbox-api/issues", Header: header, Body: post},
	)
	run := func(rate vegeta.Rate, d time.Duration, workers uint64) vegeta.Metrics {
		opts := []func(*vegeta.Attacker){vegeta.KeepAlive(true), vegeta.Connections(256), vegeta.Timeout(30 * time.Second)}
		if workers > 0 {
			opts = append(opts, vegeta.Workers(workers), vegeta.MaxWorkers(workers))
		}
		var m vegeta.Metrics
		for res := range vegeta.NewAttacker(opts...).Attack(targeter, rate, d, "soak") {
			m.Add(res)
		}
		m.Close()
		return m
	}
	sat := run(vegeta.Rate{}, 10*time.Second, saturationWorkers)
	rate := int(0.7 * sat.Throughput)
	b.Logf("saturation %.0f req/s (success %.1f %%); soaking at %d req/s for %s", sat.Throughput, 100*sat.Success, rate, duration)

	var table strings.Builder
	fmt.Fprintf(&table, "Soak: %d req/s (70 %% of %.0f) for %s, mix of GET 1 KiB, GET masked, POST 64 KiB\n\n", rate, sat.Throughput, duration)
	table.WriteString("| minute | requests | success | p50 ms | p99 ms | RSS MiB | Go heap in use MiB |\n|---|---|---|---|---|---|---|\n")
	var firstRSS, firstHeap, lastRSS, lastHeap float64
	var failed uint64
	for minute := 1; time.Duration(minute-1)*time.Minute < duration; minute++ {
		window := min(time.Minute, duration-time.Duration(minute-1)*time.Minute)
		m := run(vegeta.Rate{Freq: rate, Per: time.Second}, window, 0)
		rss, heap := airlock.rss(), airlock.goHeap(b)
		if minute == 1 {
			firstRSS, firstHeap = rss, heap
		}
		lastRSS, lastHeap = rss, heap
		failed += m.Requests - uint64(float64(m.Requests)*m.Success+0.5)
		fmt.Fprintf(&table, "| %d | %d | %.2f %% | %.2f | %.2f | %.0f | %.0f |\n", minute, m.Requests, 100*m.Success, ms(m.Latencies.P50), ms(m.Latencies.P99), rss, heap)
		if m.Success < 1 {
			b.Logf("minute %d: errors %v", minute, m.Errors)
		}
	}
	airlock.profile(b, "heap", "heap-soak.pprof")
	b.Log("\n" + table.String())
	if dir := os.Getenv("AIRLOCK_BENCH_RESULTS"); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "soak.md"), []byte(table.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if failed > 0 {
		b.Errorf("%d requests failed", failed)
	}
	if lastRSS > 1.5*firstRSS || lastHeap > 1.5*firstHeap {
		b.Errorf("memory grew: RSS %.0f → %.0f MiB, heap %.0f → %.0f MiB", firstRSS, lastRSS, firstHeap, lastHeap)
	}
}

// goHeap is go_memstats_heap_inuse_bytes on the process's /metrics, MiB.
func (p benchProcess) goHeap(b *testing.B) float64 {
	return metricSum(b, p.admin+"/metrics", "go_memstats_heap_inuse_bytes") / (1 << 20)
}
