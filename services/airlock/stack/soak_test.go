package stack

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// BenchmarkSoak is `make soak`: Airlock (`airlock up`, everything on) at
// 70 % of the rate it saturates at, for AIRLOCK_SOAK_DURATION (make soak
// sets it), on a mix of small GETs, GETs whose answer is masked and 64 KiB
// POSTs. It records to a real MinIO, as a deployment does; with
// AIRLOCK_SOAK_RECORDER=embedded, to the embedded JetStream object store,
// whose index grows with every record it keeps (docs/benchmarks.md).
// Each minute it reports success, latency, the process's resident memory
// and its live Go heap (after a collection, so that garbage not yet
// collected does not count). It fails on any error, or when memory at the
// end is more than 1.5 times what it was after minute 2: by then the
// streams' 2-minute duplicate windows are full. Not part of CI.
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
	var opts airlockOptions
	recording := "MinIO"
	if os.Getenv("AIRLOCK_SOAK_RECORDER") == "embedded" {
		recording = "the embedded object store"
	} else {
		minio := storetest.StartMinIO(b)
		opts.recorder = fmt.Sprintf("  s3: {endpoint: %q, bucket: recordings, access_key: %q, secret_key: %q, insecure: true}",
			minio.Endpoint, minio.AccessKey, minio.SecretKey)
	}
	airlock, base, token := startAirlock(b, filepath.Join(bin, "airlock"), "http://"+upAddr, opts)
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
	fmt.Fprintf(&table, "Soak: %d req/s (70 %% of %.0f) for %s, mix of GET 1 KiB, GET masked, POST 64 KiB; recording to %s\n\n", rate, sat.Throughput, duration, recording)
	table.WriteString("| minute | requests | success | p50 ms | p99 ms | RSS MiB | live Go heap MiB | events not yet recorded |\n|---|---|---|---|---|---|---|---|\n")
	var firstRSS, firstHeap, lastRSS, lastHeap float64
	baseline := min(2, int((duration+time.Minute-1)/time.Minute))
	var failed uint64
	for minute := 1; time.Duration(minute-1)*time.Minute < duration; minute++ {
		window := min(time.Minute, duration-time.Duration(minute-1)*time.Minute)
		m := run(vegeta.Rate{Freq: rate, Per: time.Second}, window, 0)
		heap, rss := airlock.liveHeap(b), airlock.rss()
		if minute == baseline {
			firstRSS, firstHeap = rss, heap
		}
		lastRSS, lastHeap = rss, heap
		failed += m.Requests - uint64(float64(m.Requests)*m.Success+0.5)
		lag := metricSum(b, airlock.admin+"/metrics", "airlock_recorder_lag_events")
		fmt.Fprintf(&table, "| %d | %d | %.2f %% | %.2f | %.2f | %.0f | %.0f | %.0f |\n", minute, m.Requests, 100*m.Success, ms(m.Latencies.P50), ms(m.Latencies.P99), rss, heap, lag)
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
		b.Errorf("memory grew after minute %d: RSS %.0f → %.0f MiB, live heap %.0f → %.0f MiB", baseline, firstRSS, lastRSS, firstHeap, lastHeap)
	}
}

// liveHeap is the process's Go heap in use right after a collection, MiB:
// asking for a heap profile with gc=1 collects first.
func (p benchProcess) liveHeap(b *testing.B) float64 {
	resp, err := http.Get(p.admin + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatalf("collecting: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return metricSum(b, p.admin+"/metrics", "go_memstats_heap_inuse_bytes") / (1 << 20)
}
