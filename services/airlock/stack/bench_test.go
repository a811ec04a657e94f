package stack

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/airlockhq/airlock/services/recorder/store"
)

// BenchmarkAllowPath measures what the gateway adds to an allowed GET: each
// iteration calls the upstream directly, then through the full stack, then
// through nginx as a plain reverse proxy when it is installed
// (OIDC verification, JetStream journal, policy verdict, forwarding,
// masking), so all are measured in the same run on the same machine; and
// the same stack on a connection with masking off (unmasked-*), the
// masker's share. It reports the latency percentiles and the difference.
// unmaskedConnection is the test upstream again, with masking off: the
// benchmarks measure the masker's share in the same run.
const unmaskedConnection = `  - name: ghraw
    type: github
    upstream: ${TEST_UPSTREAM}
    credential: {env: TEST_SERVICE_CREDENTIAL}
    masking: false
`

func BenchmarkAllowPath(b *testing.B) {
	ts := newTestStack(b, stackOptions{decisionTimeout: 2 * time.Second, connections: unmaskedConnection})
	tok := ts.token(b, "agents")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(url string, auth bool) time.Duration {
		req, _ := http.NewRequest("GET", url, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+tok)
		} else {
			req.Header.Set("Authorization", "Bearer "+serviceCredential)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return d
	}
	// Warm both paths (connections, issuer discovery, JWKS).
	for range 50 {
		get(ts.up.url+"/repos/acme/api", false)
		get(ts.IngressURL+"/gh/repos/acme/api", true)
		get(ts.IngressURL+"/ghraw/repos/acme/api", true)
	}
	nginx := ""
	if _, err := exec.LookPath("nginx"); err == nil {
		nginx = startNginx(b, ts.up.url)
		for range 50 {
			get(nginx+"/repos/acme/api", false)
		}
	}
	direct := make([]time.Duration, 0, b.N)
	gateway := make([]time.Duration, 0, b.N)
	unmasked := make([]time.Duration, 0, b.N)
	proxied := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		direct = append(direct, get(ts.up.url+"/repos/acme/api", false))
		gateway = append(gateway, get(ts.IngressURL+"/gh/repos/acme/api", true))
		unmasked = append(unmasked, get(ts.IngressURL+"/ghraw/repos/acme/api", true))
		if nginx != "" {
			proxied = append(proxied, get(nginx+"/repos/acme/api", false))
		}
	}
	// The same requests with the recorder stopped: recording must cost
	// the request path nothing (the ingress never waits for it).
	unrecorded := make([]time.Duration, 0, b.N)
	ts.StopRecorder()
	for range b.N {
		unrecorded = append(unrecorded, get(ts.IngressURL+"/gh/repos/acme/api", true))
	}
	// And with the recorder on a store that takes 50 ms per write: if the
	// ingress waited for the object write, every request would take 50 ms
	// more.
	if err := ts.StartRecorderOn(context.Background(), func(s store.Store) store.Store { return slowStore{s, 50 * time.Millisecond} }); err != nil {
		b.Fatal(err)
	}
	slowStored := make([]time.Duration, 0, b.N)
	for range b.N {
		slowStored = append(slowStored, get(ts.IngressURL+"/gh/repos/acme/api", true))
	}
	b.StopTimer()
	slices.Sort(slowStored)
	slices.Sort(unrecorded)
	slices.Sort(direct)
	slices.Sort(gateway)
	slices.Sort(unmasked)
	slices.Sort(proxied)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Microseconds())
	}
	b.ReportMetric(pct(direct, .50), "direct-p50-µs")
	b.ReportMetric(pct(direct, .99), "direct-p99-µs")
	b.ReportMetric(pct(gateway, .50), "airlock-p50-µs")
	b.ReportMetric(pct(gateway, .99), "airlock-p99-µs")
	b.ReportMetric(pct(gateway, .50)-pct(direct, .50), "added-p50-µs")
	b.ReportMetric(pct(gateway, .99)-pct(direct, .99), "added-p99-µs")
	b.ReportMetric(pct(unrecorded, .50), "unrecorded-p50-µs")
	b.ReportMetric(pct(unrecorded, .99), "unrecorded-p99-µs")
	b.ReportMetric(pct(slowStored, .50), "slow-store-p50-µs")
	b.ReportMetric(pct(slowStored, .99), "slow-store-p99-µs")
	b.ReportMetric(pct(unmasked, .50), "unmasked-p50-µs")
	b.ReportMetric(pct(unmasked, .99), "unmasked-p99-µs")
	if len(proxied) > 0 {
		b.ReportMetric(pct(proxied, .50), "nginx-p50-µs")
		b.ReportMetric(pct(proxied, .99), "nginx-p99-µs")
	}
}

// slowStore is a recordings store whose writes take delay more.
type slowStore struct {
	store.Store
	delay time.Duration
}

func (s slowStore) Put(ctx context.Context, key string, data []byte) error {
	time.Sleep(s.delay)
	return s.Store.Put(ctx, key, data)
}

// BenchmarkAllowPathParallel measures throughput: concurrent clients through
// the gateway, and the same clients against the upstream directly.
func BenchmarkAllowPathParallel(b *testing.B) {
	ts := newTestStack(b, stackOptions{decisionTimeout: 2 * time.Second, connections: unmaskedConnection})
	tok := ts.token(b, "agents")
	targets := []struct{ name, url, auth string }{
		{"direct", ts.up.url + "/repos/acme/api", serviceCredential},
		{"airlock", ts.IngressURL + "/gh/repos/acme/api", tok},
		{"airlock-unmasked", ts.IngressURL + "/ghraw/repos/acme/api", tok},
	}
	if _, err := exec.LookPath("nginx"); err == nil {
		targets = append(targets, struct{ name, url, auth string }{"nginx", startNginx(b, ts.up.url) + "/repos/acme/api", serviceCredential})
	}
	for _, target := range targets {
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			b.SetParallelism(8)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", target.url, nil)
					req.Header.Set("Authorization", "Bearer "+target.auth)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}
