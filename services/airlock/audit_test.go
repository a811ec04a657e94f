package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/pkg/subject"
)

func TestAuditTailFollowsAndFilters(t *testing.T) {
	srv := bustest.Start(t)
	_, js := srv.Connect(t, "test")
	publish := func(conn, sub, decision string) string {
		a := event.Audit{V: 1, ID: event.NewID(), Time: time.Now().UTC(), Connection: conn, Identity: sub,
			Groups: []string{}, Method: "GET", Path: "/x", Action: "repos.read", Decision: decision, Status: 200}
		data, _ := json.Marshal(a)
		if _, err := js.Publish(context.Background(), subject.Audit(conn), data); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	old := publish("github", "copilot", "allow") // before tail starts: not shown without --since

	for _, tt := range []struct {
		name   string
		f      auditFilter
		since  time.Duration
		format string
		want   []int // indexes of the events below that must be shown
		old    bool
	}{
		{name: "all", format: "json", want: []int{0, 1, 2}},
		{name: "one connection", f: auditFilter{connection: "git"}, format: "json", want: []int{1}},
		{name: "denials by copilot", f: auditFilter{identity: "copilot", decision: "deny"}, format: "table", want: []int{2}},
		{name: "since", since: time.Hour, format: "json", want: []int{0, 1, 2}, old: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var out logtest.Buffer
			done := make(chan error, 1)
			go func() { done <- tailAudit(ctx, js, tt.f, tt.since, tt.format, &out) }()
			time.Sleep(200 * time.Millisecond) // the consumer is created
			ids := []string{publish("github", "copilot", "allow"), publish("git", "ci-bot", "allow"), publish("github", "copilot", "deny")}
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && !strings.Contains(out.String(), ids[2]) && !strings.Contains(out.String(), ids[1]) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := out.String()
			for i, id := range ids {
				if shown, want := strings.Contains(got, id), slices.Contains(tt.want, i); shown != want {
					t.Errorf("event %d shown=%v, want %v:\n%s", i, shown, want, got)
				}
			}
			if strings.Contains(got, old) != tt.old {
				t.Errorf("older event shown=%v, want %v", strings.Contains(got, old), tt.old)
			}
		})
	}
}

func TestAuditExportStopsAtTheEnd(t *testing.T) {
	srv := bustest.Start(t)
	_, js := srv.Connect(t, "test")
	var ids []string
	for i := range 1200 {
		a := event.Audit{V: 1, ID: event.NewID(), Time: time.Now().UTC(), Connection: "github", Identity: "copilot",
			Groups: []string{}, Method: "GET", Path: "/x", Decision: []string{"allow", "deny"}[i%2], Status: 200}
		data, _ := json.Marshal(a)
		if _, err := js.Publish(context.Background(), subject.Audit("github"), data); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := exportAudit(ctx, js, auditFilter{decision: "deny"}, time.Hour, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 600 || !strings.Contains(lines[0], ids[1]) || !strings.Contains(lines[599], ids[1199]) {
		t.Fatalf("%d lines exported, want the 600 denials in order", len(lines))
	}
	// An empty stream: no line, no wait past a second.
	empty := bustest.Start(t)
	_, ejs := empty.Connect(t, "test")
	out.Reset()
	start := time.Now()
	if err := exportAudit(ctx, ejs, auditFilter{}, time.Hour, &out); err != nil || out.Len() != 0 || time.Since(start) > 3*time.Second {
		t.Errorf("empty stream: %q, %v, %s", out.String(), err, time.Since(start))
	}
}
