package stack

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/services/recorder"
	"github.com/airlockhq/airlock/services/recorder/store"
	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// minioOutage is how long MinIO is down in TestRecordingSurvivesAStoreOutage.
const minioOutage = 60 * time.Second

// recordings reads every record in st, and the raw (decompressed) bytes
// of every object, for what must never be in them.
func recordings(t *testing.T, st store.Store) (map[string]*recorder.Record, []byte) {
	t.Helper()
	ctx := context.Background()
	keys, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*recorder.Record{}
	var all bytes.Buffer
	for _, k := range keys {
		data, err := st.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			raw, _ := io.ReadAll(zr)
			all.Write(raw)
		}
		if !strings.HasPrefix(k, recorder.SessionsPrefix) {
			continue
		}
		r, err := recorder.DecodeRecord(data)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if recs[r.ID] != nil {
			t.Errorf("request %s recorded twice", r.ID)
		}
		recs[r.ID] = r
	}
	return recs, all.Bytes()
}

// awaitRecords waits until st holds n records.
func awaitRecords(t *testing.T, st store.Store, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		keys, err := st.List(context.Background(), recorder.SessionsPrefix)
		if err == nil && len(keys) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records after %s, want %d (%v)", len(keys), within, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRecordingSurvivesAStoreOutage sends 1,000 requests through the
// gateway with a real MinIO as the recordings store, stopping MinIO for
// 60 s in the middle: every request is recorded once, with its verdict and
// response, nothing unmasked; a session replays in order; the audit chain
// verifies, and names the segment when one is edited or deleted.
func TestRecordingSurvivesAStoreOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops MinIO for 60 s")
	}
	minio := storetest.StartMinIOServer(t)
	b := newSecretBodies(t)
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		policy:          maskPolicy,
		recorder: fmt.Sprintf(`  s3: {endpoint: %q, bucket: recordings, access_key: %q, secret_key: %q, insecure: true}
  retention_days: 30`, minio.Config.Endpoint, minio.Config.AccessKey, minio.Config.SecretKey),
		handle: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/leaky") {
				_, _ = w.Write(b.json)
				return
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		},
	})
	tok := ts.token(t, "agents")
	const n = 1000
	var sent sync.WaitGroup
	send := func(from, to int) {
		for i := from; i < to; i++ {
			path := fmt.Sprintf("/gh/repos/acme/api/issues/%d", i)
			method := "GET"
			switch {
			case i%10 == 3:
				method = "DELETE" // denied
			case i%50 == 7:
				path = "/gh/repos/acme/api/leaky" // secrets, masked
			}
			resp, _ := ts.do(t, method, path, tok, nil)
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s: %d", method, path, resp.StatusCode)
			}
		}
	}
	send(0, n/2)
	minio.Stop()
	sent.Add(1)
	go func() { defer sent.Done(); send(n/2, n) }()
	time.Sleep(minioOutage)
	// The outage shows on the recorder's metrics: records retried, events
	// waiting.
	if lag, retried := metricValue(t, ts.Registry, "airlock_recorder_lag_events"), metricValue(t, ts.Registry, "airlock_recorder_records_total", "retried"); lag == 0 || retried == 0 {
		t.Errorf("with MinIO down: airlock_recorder_lag_events %v, records retried %v; want both above 0", lag, retried)
	}
	minio.Restart()
	sent.Wait()

	st := ts.Recordings()
	awaitRecords(t, st, n, 60*time.Second)
	recs, raw := recordings(t, st)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(t, ts.Registry, "airlock_recorder_lag_events") != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if lag := metricValue(t, ts.Registry, "airlock_recorder_lag_events"); lag != 0 {
		t.Errorf("airlock_recorder_lag_events = %v once all is recorded", lag)
	}
	for id, r := range recs {
		if !r.Complete || r.Request == nil || r.Verdict == nil || r.Response == nil {
			t.Fatalf("record %s incomplete: request %v verdict %v response %v", id, r.Request != nil, r.Verdict != nil, r.Response != nil)
		}
	}
	if l := b.leaked(raw); len(l) > 0 {
		t.Errorf("secrets in the recordings: %v", l)
	}
	// The responses that carried secrets are recorded, masked.
	withBodies := 0
	for _, r := range recs {
		if body := r.Response.Body; body != nil && bytes.Contains(body.Inline, []byte("[MASKED:")) && body.Masked {
			withBodies++
		}
	}
	if withBodies != n/50 {
		t.Errorf("%d records hold a masked response body, want %d", withBodies, n/50)
	}

	sessions, err := recorder.Sessions(context.Background(), st, recorder.Filter{Connection: "gh"})
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions: %v, %v", sessions, err)
	}
	replay, err := recorder.Replay(context.Background(), st, sessions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(replay); i++ {
		if replay[i].Time.Before(replay[i-1].Time) {
			t.Fatalf("replay out of order at %d", i)
		}
	}

	// The chain: every audit event once, intact; then tampered with.
	deadline = time.Now().Add(30 * time.Second)
	var chained int
	for {
		chained, err = recorder.Verify(context.Background(), st)
		if err != nil {
			t.Fatalf("verify on an intact chain: %v", err)
		}
		if chained >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if chained != n {
		t.Fatalf("%d audit events chained, want %d", chained, n)
	}
	t.Logf("%d records, %d sessions, %d audit events chained; MinIO down %s mid-run", len(recs), len(sessions), chained, minioOutage)
	checkTamperEvident(t, st)
}

// checkTamperEvident edits one event of the chain, then deletes a
// segment: Verify names each.
func checkTamperEvident(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	keys, err := st.List(ctx, recorder.AuditPrefix)
	if err != nil || len(keys) < 2 {
		t.Fatalf("segments: %v, %v", keys, err)
	}
	at := (len(keys) - 1) / 2
	victim := keys[at]
	data, err := st.Get(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	plain, _ := io.ReadAll(zr)
	edited := bytes.Replace(plain, []byte(`"identity":"copilot"`), []byte(`"identity":"c0pilot"`), 1)
	if bytes.Equal(edited, plain) {
		t.Fatalf("nothing to edit in %s", victim)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(edited)
	_ = zw.Close()
	if err := st.Put(ctx, victim, z.Bytes()); err != nil {
		t.Fatal(err)
	}
	_, err = recorder.Verify(ctx, st)
	var broken *recorder.Broken
	if !errors.As(err, &broken) || broken.Key != victim || broken.Seq == 0 || !strings.Contains(broken.Reason, "changed") {
		t.Errorf("after editing %s: %v", victim, err)
	}
	if err := st.Put(ctx, victim, data); err != nil {
		t.Fatal(err)
	}
	if _, err := recorder.Verify(ctx, st); err != nil {
		t.Fatalf("restored: %v", err)
	}
	if err := st.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	_, err = recorder.Verify(ctx, st)
	if !errors.As(err, &broken) || broken.Key != keys[at+1] {
		t.Errorf("after deleting %s: %v (want the next segment named)", victim, err)
	}
}

// TestRecorderRestartLosesNothing: the embedded default (the JetStream
// object store); the recorder is stopped while requests flow and started
// again: every request is recorded once, and the chain holds.
func TestRecorderRestartLosesNothing(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second})
	tok := ts.token(t, "agents")
	const n = 100
	for i := range n {
		if i == n/3 {
			ts.StopRecorder()
		}
		if i == 2*n/3 {
			if err := ts.StartRecorder(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		method := "GET"
		if i%4 == 1 {
			method = "DELETE"
		}
		if resp, _ := ts.do(t, method, fmt.Sprintf("/gh/repos/acme/api/pulls/%d", i), tok, nil); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	st := ts.Recordings()
	awaitRecords(t, st, n, 60*time.Second)
	recs, _ := recordings(t, st)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	awaitChained(t, st, n, 20*time.Second)
}

// awaitChained waits until the audit chain in st verifies with n events.
func awaitChained(t *testing.T, st store.Store, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		chained, err := recorder.Verify(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if chained == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit events chained, want %d", chained, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricValue sums the series of a metric in reg whose labels include all
// of values (none: every series).
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, values ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]bool{}
			for _, l := range m.GetLabel() {
				labels[l.GetValue()] = true
			}
			if !slices.ContainsFunc(values, func(v string) bool { return !labels[v] }) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestRecorderReplicasOneActive runs a second recorder replica beside the
// stack's: one records, the other stands by. The active one then dies (its
// bus connection cut, so it cannot give the lease up); the standby takes
// over once the lease expires. Every request, before and after, is
// recorded once and whole, and the audit chain holds: no split records,
// no fork.
func TestRecorderReplicasOneActive(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second})
	tok := ts.token(t, "agents")
	_, js := connect(t, ts.NATSURL)
	reg := prometheus.NewRegistry()
	m, err := recorder.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	standby, err := recorder.Start(context.Background(), ts.cfg, js, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standby.Stop)
	time.Sleep(2 * recorder.LeaseRenew)
	if a, b := metricValue(t, ts.Registry, "airlock_recorder_active"), metricValue(t, reg, "airlock_recorder_active"); a != 1 || b != 0 {
		t.Fatalf("airlock_recorder_active: first %v, second %v; want 1 and 0", a, b)
	}
	const n = 100
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if resp, _ := ts.do(t, "GET", fmt.Sprintf("/gh/repos/acme/api/pulls/%d", i), tok, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
		}
	}
	send(0, n/2)
	// A crash: the connection goes first, so the lease is not released.
	ts.recorderNC.Close()
	ts.StopRecorder()
	died := time.Now()
	send(n/2, n)
	for metricValue(t, reg, "airlock_recorder_active") != 1 {
		if time.Since(died) > bus.LeaseTTL+3*recorder.LeaseRenew {
			t.Fatalf("the standby did not take over within %s", bus.LeaseTTL+3*recorder.LeaseRenew)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the standby took over %s after the active replica died", time.Since(died).Round(100*time.Millisecond))
	// Events the dead replica held come back after the ack wait; a record
	// written without them then has them merged in.
	st := standby.Store
	awaitRecords(t, st, n, 60*time.Second)
	deadline := time.Now().Add(bus.RecorderAckWait + 30*time.Second)
	for {
		recs, _ := recordings(t, st)
		var partial []string
		for id, r := range recs {
			if !r.Complete || r.Request == nil || r.Verdict == nil || r.Response == nil {
				partial = append(partial, fmt.Sprintf("%s (request %v verdict %v response %v)", id, r.Request != nil, r.Verdict != nil, r.Response != nil))
			}
		}
		if len(recs) == n && len(partial) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records, want %d; split or incomplete: %v", len(recs), n, partial)
		}
		time.Sleep(500 * time.Millisecond)
	}
	awaitChained(t, st, n, 30*time.Second)
}

// TestRecorderWritesRecordsConcurrently: the recorder writes several
// records to the store at once, so that the store's round trip does not
// bound how many requests a second are recorded (one at a time, a 2-core
// gateway at 70 % load left hundreds of thousands of events unrecorded in
// the stream after 3 minutes). The store here lets no write finish until 8
// are under way together; one writer at a time never gets there.
func TestRecorderWritesRecordsConcurrently(t *testing.T) {
	ts := startStackQuiet(t, 5*time.Second)
	ts.StopRecorder()
	gate := &gatedStore{need: 8, open: make(chan struct{})}
	if err := ts.StartRecorderOn(context.Background(), func(st store.Store) store.Store {
		gate.Store = st
		return gate
	}); err != nil {
		t.Fatal(err)
	}
	tok := ts.token(t, "agents")
	for range 8 {
		if resp, body := ts.do(t, "GET", "/gh/repos/acme/api", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("GET: %d %s", resp.StatusCode, body)
		}
	}
	select {
	case <-gate.open:
	case <-time.After(30 * time.Second):
		t.Fatalf("at most %d writes under way at once, want 8", gate.most.Load())
	}
	awaitRecords(t, ts.Recordings(), 8, 30*time.Second)
}

// gatedStore holds every Put until need of them are under way at once.
type gatedStore struct {
	store.Store
	need     int64
	inFlight atomic.Int64
	most     atomic.Int64
	once     sync.Once
	open     chan struct{}
}

func (g *gatedStore) Put(ctx context.Context, key string, data []byte) error {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	if n >= g.need {
		g.once.Do(func() { close(g.open) })
	}
	select {
	case <-g.open:
		return g.Store.Put(ctx, key, data)
	case <-ctx.Done():
		return ctx.Err()
	}
}
