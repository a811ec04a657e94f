package stack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

// The load benchmark (make bench): the upstream called directly, nginx as a
// plain reverse proxy, and Airlock with everything on — `airlock up` with
// the OIDC dev issuer, the default policy pack, the JetStream journal,
// masking and recording — each its own OS process, so that each one's CPU
// time and peak memory are its own. The upstream is this test binary run
// again (benchUpstreamEnv), a GitHub-like API; vegeta is the load
// generator, open loop: requests leave on schedule whatever the answers'
// pace, so a slow answer delays none after it.

// benchUpstreamEnv, when set to an address, makes the test binary serve
// the benchmark's upstream there instead of running tests.
const benchUpstreamEnv = "AIRLOCK_BENCH_UPSTREAM"

func TestMain(m *testing.M) {
	if addr := os.Getenv(benchUpstreamEnv); addr != "" {
		serveBenchUpstream(addr)
		return
	}
	os.Exit(m.Run())
}

const benchSecret = "ghp_8Kq2ZxV7mN4pL9sT3wR6yB1cF5hJ0dGaE2uQ"

// serveBenchUpstream serves, to callers with the service credential:
//
//	GET  /repos/acme/api                        1 KiB of JSON
//	GET  /repos/acme/api/contents/secret.json   1 KiB of JSON with a token in it
//	GET  /repos/acme/api/contents/big.json      1 MiB of GitHub JSON, 4 secrets in it
//	GET  /repos/acme/api/actions/jobs/1/logs    100 MiB of text, streamed, a token every 64 KiB
//	POST /repos/acme/sandbox-api/issues         any body, read whole; 201
func serveBenchUpstream(addr string) {
	small := []byte(`{"full_name":"acme/api","private":false,"description":"` + strings.Repeat("y", 950) + `"}`)
	secret := []byte(`{"name":"deploy","token":"` + benchSecret + `","note":"` + strings.Repeat("x", 920) + `"}`)
	big := corpus.GitHubJSON(1<<20, 7, []string{benchSecret, "AKIAIOSFODNN7EXAMPLQ", benchSecret, benchSecret})
	var chunk bytes.Buffer
	for i := 0; chunk.Len() < 64<<10-200; i++ {
		fmt.Fprintf(&chunk, "2026-11-23T10:00:%02d.%06dZ step %d: compiling package github.com/acme/api/internal/m%d\n", i%60, i, i, i)
	}
	fmt.Fprintf(&chunk, "export GITHUB_TOKEN=%s\n", benchSecret)
	auth := "Bearer " + serviceCredential
	mux := http.NewServeMux()
	jsonBody := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /repos/acme/api", jsonBody(small))
	mux.HandleFunc("GET /repos/acme/api/contents/secret.json", jsonBody(secret))
	mux.HandleFunc("GET /repos/acme/api/contents/big.json", jsonBody(big))
	mux.HandleFunc("GET /repos/acme/api/actions/jobs/1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for n := 0; n < 100<<20; n += chunk.Len() {
			if _, err := w.Write(chunk.Bytes()); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST /repos/acme/sandbox-api/issues", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"number":1}`))
	})
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != auth {
			http.Error(w, "bad credential", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})}
	_ = srv.ListenAndServe()
}

// benchProcess is a process under measurement: its CPU time and its peak
// resident memory, with those of its children (nginx's workers).
type benchProcess struct {
	name string
	pid  int
	// admin is its admin listener, with /debug/pprof/, when it has one.
	admin string
}

// profile saves the process's profile kind (a /debug/pprof/ path and
// query) to AIRLOCK_BENCH_PROFILES/<name>, when that is set and the
// process serves profiles.
func (p benchProcess) profile(b *testing.B, kind, name string) {
	dir := os.Getenv("AIRLOCK_BENCH_PROFILES")
	if dir == "" || p.admin == "" {
		return
	}
	resp, err := http.Get(p.admin + "/debug/pprof/" + kind)
	if err != nil {
		b.Logf("profile %s: %v", kind, err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	_ = os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		b.Logf("profile %s: %v", kind, err)
	}
}

// pids are the process and its children.
func (p benchProcess) pids() []int {
	pids := []int{p.pid}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) > 3 && f[3] == strconv.Itoa(p.pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat is /proc/<pid>/stat split into fields, the command name (which
// may hold spaces) as one.
func procStat(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{s[:strings.IndexByte(s, ' ')], s[:i+1]}, strings.Fields(s[i+1:])...)
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go supports.
const clockTicks = 100

// cpu is the user and system CPU time of the process and its children.
func (p benchProcess) cpu() time.Duration {
	var ticks int64
	for _, pid := range p.pids() {
		f := procStat(pid)
		if len(f) < 15 {
			continue
		}
		u, _ := strconv.ParseInt(f[13], 10, 64)
		s, _ := strconv.ParseInt(f[14], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// resetPeak resets the peak resident set (VmHWM) of the process and its
// children (Linux: clear_refs 5).
func (p benchProcess) resetPeak() {
	for _, pid := range p.pids() {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// peakRSS is the largest VmHWM among the process and its children, in MiB.
func (p benchProcess) peakRSS() float64 {
	var peak float64
	for _, pid := range p.pids() {
		peak = max(peak, statusMiB(pid, "VmHWM"))
	}
	return peak
}

// rss is the process's resident memory now, MiB.
func (p benchProcess) rss() float64 { return statusMiB(p.pid, "VmRSS") }

// statusMiB is a memory field of /proc/<pid>/status ("VmRSS"), in MiB.
func statusMiB(pid int, field string) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// metricSum adds up a metric's series on a Prometheus endpoint.
func metricSum(t testing.TB, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("%s: %q", url, line)
		}
		sum += v
	}
	return sum
}

// startProcess runs bin until the benchmark ends and waits for ready to
// answer 200.
func startProcess(b *testing.B, name, ready string, env []string, bin string, args ...string) benchProcess {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatalf("starting %s: %v", name, err)
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		req, _ := http.NewRequest("GET", ready, nil)
		req.Header.Set("Authorization", "Bearer "+serviceCredential)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not ready at %s in 30 s:\n%s", name, ready, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return benchProcess{name: name, pid: cmd.Process.Pid}
}

// benchPolicy is the default pack's companion for the benchmark: agents
// may write to sandbox repositories (the POST scenario).
const benchPolicy = `rules:
  - name: agent-sandboxes
    effect: allow
    when: identity.in_group("agents") && glob(operation.repo, "*/sandbox-*")
    reason: agents may work in sandboxes
`

// rulePack is n more rules of the kinds a real pack has: repositories
// closed to agents, paths and actions refused, each its own rule.
func rulePack(n int) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "  - name: closed-repo-%d\n    effect: deny\n    when: operation.repo == \"acme/legacy-%03d\"\n", i, i)
		case 1:
			fmt.Fprintf(&b, "  - name: closed-glob-%d\n    effect: deny\n    when: glob(operation.repo, \"team-%d/*\") && operation.write\n", i, i)
		case 2:
			fmt.Fprintf(&b, "  - name: closed-path-%d\n    effect: deny\n    when: request.path.startsWith(\"/repos/acme/frozen-%d/\")\n", i, i)
		default:
			fmt.Fprintf(&b, "  - name: closed-action-%d\n    effect: deny\n    when: operation.action == \"pulls.merge\" && operation.repo == \"acme/release-%d\"\n", i, i)
		}
	}
	return b.String()
}

// startAirlock runs `airlock up` with everything on, the default pack and
// extra policy files; it returns the process, the agents' base URL and a
// token signed by its dev issuer.
// airlockOptions change the `airlock up` a benchmark starts.
type airlockOptions struct {
	// policies are rule files' contents, after the default pack and
	// benchPolicy.
	policies []string
	// recorder is the config's recorder section, indented; empty: the
	// embedded JetStream object store.
	recorder string
}

func startAirlock(b *testing.B, bin, upstream string, opts airlockOptions) (benchProcess, string, string) {
	b.Helper()
	dir := b.TempDir()
	pack, err := filepath.Abs("../../../deploy/examples/policies/default.yaml")
	if err != nil {
		b.Fatal(err)
	}
	policies := []string{pack}
	for i, p := range append([]string{benchPolicy}, opts.policies...) {
		name := filepath.Join(dir, fmt.Sprintf("policy-%d.yaml", i))
		if err := os.WriteFile(name, []byte(p), 0o600); err != nil {
			b.Fatal(err)
		}
		policies = append(policies, name)
	}
	listen, adminAddr, issuer := freePort(b), freePort(b), freePort(b)
	natsExtra := ""
	if age := os.Getenv("AIRLOCK_BENCH_MAX_AGE"); age != "" {
		// How long the streams keep events: their per-message state is
		// what grows with the requests they hold (make soak).
		natsExtra = "\n  max_age: " + age + "\n  audit_max_age: " + age
	}
	cfg := fmt.Sprintf(`nats:
  embedded: {listen: none}%s
identity:
  dev_issuer: {enabled: true, listen: %q, audience: airlock}
ingress:
  listen: %q
admin:
  listen: %q
  pprof: true
connections:
  - name: gh
    type: github
    upstream: %s
    credential: {value: %s}
policies: [%s]
`, natsExtra, issuer, listen, adminAddr, upstream, serviceCredential, strings.Join(policies, ", "))
	if opts.recorder != "" {
		cfg += "recorder:\n" + opts.recorder + "\n"
	}
	cfgPath := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	p := startProcess(b, "airlock", "http://"+adminAddr+"/readyz", nil, bin, "up", "--config", cfgPath, "--data-dir", data)
	out, err := exec.Command(bin, "token", "--data-dir", data, "--groups", "agents", "--ttl", "6h").Output()
	if err != nil {
		b.Fatalf("airlock token: %v", err)
	}
	p.admin = "http://" + adminAddr
	return p, "http://" + listen + "/gh", strings.TrimSpace(string(out))
}

// benchResult is one target in one scenario at one rate (0: saturation).
type benchResult struct {
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Rate     int     `json:"rate"`
	Requests uint64  `json:"requests"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	Success  float64 `json:"success"`
	Achieved float64 `json:"achieved_rps"`
	// CPUPer1000 is the target process's CPU seconds per 1,000 requests
	// (the upstream's for direct; nginx's or Airlock's own otherwise).
	CPUPer1000 float64 `json:"cpu_s_per_1000"`
	// PeakRSS is the target's peak resident memory in the scenario, MiB.
	PeakRSS float64 `json:"peak_rss_mib"`
	// IdleRSS is its resident memory before the scenario, MiB.
	IdleRSS float64 `json:"idle_rss_mib,omitempty"`
	// MBps is the download rate of the streaming scenario.
	MBps float64 `json:"mb_per_s,omitempty"`
	// RecordedAfter is how many seconds after the cell's end Airlock's
	// recorder had written every event of it; CPUPer1000 includes them.
	RecordedAfter float64 `json:"recorded_after_s,omitempty"`
}

type benchTarget struct {
	name, base, auth string
	proc             benchProcess
}

type benchScenario struct {
	name, method, path string
	body               []byte
	rates              []int
	// pack200 runs Airlock with the default pack and 200 more rules.
	pack200 bool
}

// BenchmarkOpenLoop is the load benchmark. AIRLOCK_BENCH_BIN is the
// directory of the built binaries (make bench builds them);
// AIRLOCK_BENCH_SECONDS the seconds per cell (default 5);
// AIRLOCK_BENCH_ONLY runs only the scenarios whose name holds it
// ("100 MiB" for the download), to profile one;
// AIRLOCK_BENCH_RESULTS a directory to write bench.md and bench.json to.
func BenchmarkOpenLoop(b *testing.B) {
	bin := os.Getenv("AIRLOCK_BENCH_BIN")
	if bin == "" {
		b.Skip("AIRLOCK_BENCH_BIN is not set: run `make bench`, which builds bin/airlock")
	}
	seconds := 5
	if v := os.Getenv("AIRLOCK_BENCH_SECONDS"); v != "" {
		var err error
		if seconds, err = strconv.Atoi(v); err != nil || seconds <= 0 {
			b.Fatalf("AIRLOCK_BENCH_SECONDS: %q", v)
		}
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	upAddr := freePort(b)
	upstream := startProcess(b, "upstream", "http://"+upAddr+"/repos/acme/api", []string{benchUpstreamEnv + "=" + upAddr}, self)
	upURL := "http://" + upAddr
	nginxURL, nginxPID := startNginxProcess(b, upURL)
	nginx := benchProcess{name: "nginx", pid: nginxPID}
	airlock, airlockURL, token := startAirlock(b, filepath.Join(bin, "airlock"), upURL, airlockOptions{})
	airlock200, airlock200URL, token200 := startAirlock(b, filepath.Join(bin, "airlock"), upURL, airlockOptions{policies: []string{rulePack(200)}})

	post := bytes.Repeat([]byte(`{"title":"flaky test","body":"`+strings.Repeat("z", 1000)+`"},`), 64)
	scenarios := []benchScenario{
		{name: "GET 1 KiB JSON", method: "GET", path: "/repos/acme/api", rates: []int{500, 1000}},
		{name: "GET 1 KiB with a secret (masked)", method: "GET", path: "/repos/acme/api/contents/secret.json", rates: []int{500, 1000}},
		{name: "POST 64 KiB body (scanned)", method: "POST", path: "/repos/acme/sandbox-api/issues", body: post[:64<<10], rates: []int{500, 1000}},
		{name: "GET 1 KiB JSON, 200-rule pack", method: "GET", path: "/repos/acme/api", rates: []int{500, 1000}, pack200: true},
		{name: "GET 1 MiB JSON (masked)", method: "GET", path: "/repos/acme/api/contents/big.json", rates: []int{50, 100}},
	}
	if only := os.Getenv("AIRLOCK_BENCH_ONLY"); only != "" {
		scenarios = slices.DeleteFunc(scenarios, func(sc benchScenario) bool { return !strings.Contains(sc.name, only) })
	}
	var results []benchResult
	for range b.N { // one full run; -benchtime 1x
		results = results[:0]
		for _, sc := range scenarios {
			targets := []benchTarget{
				{"direct", upURL, serviceCredential, upstream},
				{"nginx", nginxURL, serviceCredential, nginx},
				{"airlock", airlockURL, token, airlock},
			}
			if sc.pack200 {
				targets[2] = benchTarget{"airlock", airlock200URL, token200, airlock200}
			}
			for _, tg := range targets {
				tg.proc.resetPeak()
				for _, rate := range append(slices.Clip(sc.rates), 0) {
					r := attack(b, sc, tg, rate, time.Duration(seconds)*time.Second)
					r.PeakRSS = tg.proc.peakRSS()
					results = append(results, r)
				}
			}
		}
		if only := os.Getenv("AIRLOCK_BENCH_ONLY"); only != "" && !strings.Contains(downloadScenario, only) {
			continue
		}
		// The download in an Airlock that has served nothing else: its
		// peak memory is the download's, not what earlier scenarios left
		// in the heap.
		fresh, freshURL, freshToken := startAirlock(b, filepath.Join(bin, "airlock"), upURL, airlockOptions{})
		for _, tg := range []benchTarget{
			{"direct", upURL, serviceCredential, upstream},
			{"nginx", nginxURL, serviceCredential, nginx},
			{"airlock", freshURL, freshToken, fresh},
		} {
			results = append(results, download(b, tg, "/repos/acme/api/actions/jobs/1/logs", 3))
		}
	}
	b.StopTimer()
	table := benchTable(results, seconds)
	b.Log("\n" + table)
	for _, r := range results {
		if r.Target == "airlock" && r.Rate == 1000 && r.Scenario == scenarios[0].name {
			b.ReportMetric(r.P50, "airlock-p50-ms")
			b.ReportMetric(r.P99, "airlock-p99-ms")
		}
	}
	if dir := os.Getenv("AIRLOCK_BENCH_RESULTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		data, _ := json.MarshalIndent(map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "go": runtime.Version(),
			"cpus": runtime.NumCPU(), "cpu": cpuModel(), "nginx": nginxVersion(), "seconds": seconds, "results": results}, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "bench.json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bench.md"), []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// saturationWorkers is how many requests the saturation runs keep in
// flight: enough to keep two cores busy through every target.
const saturationWorkers = 64

// attack runs sc against tg at rate (0: as fast as saturationWorkers
// concurrent requests go) for d.
func attack(b *testing.B, sc benchScenario, tg benchTarget, rate int, d time.Duration) benchResult {
	b.Helper()
	opts := []func(*vegeta.Attacker){vegeta.KeepAlive(true), vegeta.Connections(256), vegeta.Timeout(30 * time.Second)}
	pace := vegeta.Rate{Freq: rate, Per: time.Second}
	if rate == 0 {
		opts = append(opts, vegeta.Workers(saturationWorkers), vegeta.MaxWorkers(saturationWorkers))
		pace = vegeta.Rate{}
	}
	attacker := vegeta.NewAttacker(opts...)
	header := http.Header{"Authorization": {"Bearer " + tg.auth}}
	if sc.body != nil {
		header.Set("Content-Type", "application/json")
	}
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: sc.method, URL: tg.base + sc.path, Body: sc.body, Header: header})
	cpu0 := tg.proc.cpu()
	if rate == 0 {
		// The hot path, under saturation.
		go tg.proc.profile(b, fmt.Sprintf("profile?seconds=%d", max(1, int(d.Seconds())-1)), "cpu-"+profileName(sc.name)+".pprof")
	}
	var m vegeta.Metrics
	for res := range attacker.Attack(targeter, pace, d, tg.name) {
		m.Add(res)
	}
	m.Close()
	var behind time.Duration
	if tg.name == "airlock" {
		behind = tg.proc.awaitRecorded(b)
	}
	cpu := tg.proc.cpu() - cpu0
	r := benchResult{Scenario: sc.name, Target: tg.name, Rate: rate, Requests: m.Requests,
		P50: ms(m.Latencies.P50), P90: ms(m.Latencies.P90), P99: ms(m.Latencies.P99),
		Success: m.Success, Achieved: m.Throughput, RecordedAfter: behind.Seconds()}
	if m.Requests > 0 {
		r.CPUPer1000 = cpu.Seconds() / float64(m.Requests) * 1000
	}
	if m.Success < 1 {
		b.Logf("%s %s at %d req/s: success %.1f %%, errors %v", sc.name, tg.name, rate, 100*m.Success, m.Errors)
	}
	return r
}

// awaitRecorded waits, up to a minute, until Airlock's recorder has
// written every event it was given, and returns how long after the first
// reading of its lag that was: a rate the recorder cannot follow is not a
// rate Airlock sustains, and the catching up is part of the cost.
func (p benchProcess) awaitRecorded(b *testing.B) time.Duration {
	// The lag gauge is set every second: wait for one taken after the load.
	time.Sleep(1100 * time.Millisecond)
	start := time.Now()
	for time.Since(start) < time.Minute && metricSum(b, p.admin+"/metrics", "airlock_recorder_lag_events") > 0 {
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start)
}

// downloadScenario is the name of the download's row.
const downloadScenario = "GET 100 MiB text, streamed (masked)"

// download fetches a large body n times in a row and reports the rate and
// the target's peak memory while it streamed.
func download(b *testing.B, tg benchTarget, path string, n int) benchResult {
	b.Helper()
	tg.proc.resetPeak()
	idle := tg.proc.peakRSS()
	client := &http.Client{Timeout: 5 * time.Minute}
	var total int64
	start := time.Now()
	cpu0 := tg.proc.cpu()
	go func() {
		time.Sleep(300 * time.Millisecond)
		tg.proc.profile(b, "heap", "heap-download.pprof")
	}()
	for range n {
		req, _ := http.NewRequest("GET", tg.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tg.auth)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("%s download: %v", tg.name, err)
		}
		got, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got < 100<<20 {
			b.Fatalf("%s download: %d, %d bytes, %v", tg.name, resp.StatusCode, got, err)
		}
		total += got
	}
	took := time.Since(start)
	return benchResult{Scenario: downloadScenario, Target: tg.name, Requests: uint64(n), Success: 1,
		MBps: float64(total) / took.Seconds() / 1e6, P50: ms(took / time.Duration(n)), CPUPer1000: (tg.proc.cpu() - cpu0).Seconds() / float64(n) * 1000,
		PeakRSS: tg.proc.peakRSS(), IdleRSS: idle}
}

// profileName is a scenario's name as a file name.
func profileName(scenario string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, scenario)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func nginxVersion() string {
	out, _ := exec.Command("nginx", "-v").CombinedOutput()
	return strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))
}

// benchTable renders the results: latency at fixed rates with what each
// target adds to direct calls, saturation against direct and nginx, CPU
// and memory, and the streamed download.
func benchTable(rs []benchResult, seconds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Airlock load benchmark, %s\n\n", time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "%s, %d CPUs; %s; nginx %s; vegeta v12, open loop, %d s per cell. Each target is its own process: the upstream (direct), nginx (`proxy_pass`, 2 workers), Airlock (`airlock up`: OIDC, default pack, JetStream journal, masking, recording). CPU s/1000 is the target's own CPU time; peak RSS its largest resident set in the scenario.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), nginxVersion(), seconds)
	key := func(r benchResult) string { return r.Scenario + "/" + strconv.Itoa(r.Rate) }
	by := map[string]map[string]benchResult{}
	for _, r := range rs {
		if by[key(r)] == nil {
			by[key(r)] = map[string]benchResult{}
		}
		by[key(r)][r.Target] = r
	}
	b.WriteString("## At fixed rates\n\n| scenario | rate | target | p50 ms | p90 ms | p99 ms | added p50 | added p99 | success | CPU s/1000 | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if r.Rate == 0 {
			continue
		}
		d := by[key(r)]["direct"]
		fmt.Fprintf(&b, "| %s | %d | %s | %.2f | %.2f | %.2f | %+.2f | %+.2f | %.1f %% | %.3f | %.0f |\n", r.Scenario, r.Rate, r.Target,
			r.P50, r.P90, r.P99, r.P50-d.P50, r.P99-d.P99, 100*r.Success, r.CPUPer1000, r.PeakRSS)
	}
	fmt.Fprintf(&b, "\n## Saturation (%d requests in flight)\n\nAirlock's CPU includes the recorder catching up after the load, for the seconds in the last column.\n\n| scenario | target | req/s | %% of direct | %% of nginx | p50 ms | p99 ms | CPU s/1000 | recorded s after |\n|---|---|---|---|---|---|---|---|---|\n", saturationWorkers)
	for _, r := range rs {
		if r.Rate != 0 || r.MBps != 0 {
			continue
		}
		d, n := by[key(r)]["direct"], by[key(r)]["nginx"]
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f %% | %.0f %% | %.2f | %.2f | %.3f | %.1f |\n", r.Scenario, r.Target, r.Achieved,
			100*r.Achieved/d.Achieved, 100*r.Achieved/n.Achieved, r.P50, r.P99, r.CPUPer1000, r.RecordedAfter)
	}
	b.WriteString("\n## Streamed download (3 in a row; Airlock a fresh process)\n\n| scenario | target | MB/s | s per download | CPU s per download | RSS before MiB | peak RSS MiB |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if r.MBps == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.2f | %.0f | %.0f |\n", r.Scenario, r.Target, r.MBps, r.P50/1000, r.CPUPer1000/1000, r.IdleRSS, r.PeakRSS)
	}
	return b.String()
}
