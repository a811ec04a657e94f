package recorder_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/services/recorder"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// TestSweepExpiresByConnection: on the JetStream object store, which has
// no lifecycle rules, the recorder's sweep deletes the records older than
// their connection's retention, keeps the rest and never touches the audit
// chain.
func TestSweepExpiresByConnection(t *testing.T) {
	srv := bustest.Start(t)
	_, js := srv.Connect(t, "retention-test")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.NewJetStream(ctx, js, "retention-test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	keys := []string{
		"sessions/github/2026/11/23/s1/01A.json.gz",  // today
		"sessions/github/2026/11/16/s1/01B.json.gz",  // 7 days: kept (the day is not wholly older)
		"sessions/github/2026/11/15/s1/01C.json.gz",  // 8 days: expired
		"sessions/github/2025/12/31/s1/01D.json.gz",  // long ago: expired
		"sessions/git/2026/11/15/s2/01E.json.gz",     // 8 days, but git keeps 30
		"sessions/git/2026/10/01/s2/01F.json.gz",     // 53 days: expired
		"sessions/demo/2020/01/01/s3/01G.json.gz",    // demo keeps for ever
		"sessions/githubx/2020/01/01/s4/01H.json.gz", // another connection whose name starts alike
		"audit/2020/01/01/00000000000000000001.jsonl.gz",
	}
	for _, k := range keys {
		if err := st.Put(ctx, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	retention := map[string]int{"sessions/github/": 7, "sessions/git/": 30, "sessions/demo/": 0, "sessions/githubx/": 0}
	n, err := recorder.Sweep(ctx, st, retention, now)
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"audit/2020/01/01/00000000000000000001.jsonl.gz",
		"sessions/demo/2020/01/01/s3/01G.json.gz",
		"sessions/git/2026/11/15/s2/01E.json.gz",
		"sessions/github/2026/11/16/s1/01B.json.gz",
		"sessions/github/2026/11/23/s1/01A.json.gz",
		"sessions/githubx/2020/01/01/s4/01H.json.gz",
	}
	if n != 3 || !slices.Equal(left, want) {
		t.Fatalf("swept %d, left:\n%q\nwant:\n%q", n, left, want)
	}
	// Again: nothing more to do.
	if n, err := recorder.Sweep(ctx, st, retention, now); n != 0 || err != nil {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
}
