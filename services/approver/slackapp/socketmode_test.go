package slackapp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// envelope is a Socket Mode message carrying an interaction.
func envelope(id, payload string) string {
	return `{"envelope_id":"` + id + `","type":"interactive","accepts_response_payload":false,"payload":` + payload + `}`
}

// RunSocketMode runs for real against slacktest, which serves
// apps.connections.open (answering with its own WebSocket URL) and relays
// to that WebSocket whatever the test sends with SendToWebsocket. What the
// client writes back (the acknowledgements) comes out of slacktest's
// SeenFeed. slacktest knows nothing of Socket Mode beyond that: the
// envelopes are written here as Slack documents them.
//
// When RunSocketMode stops, slack-go closes the WebSocket without a close
// frame; slacktest's handler then keeps reading the dead connection until
// gorilla/websocket panics, which net/http recovers and logs (seen with
// -v). That is slacktest's, and does not touch the test.
func TestRunSocketMode(t *testing.T) {
	f := newFakeSlack(t)
	api := slack.New("xoxb-test-bot-token",
		slack.OptionAppLevelToken("xapp-test-app-token"),
		slack.OptionAPIURL(f.srv.GetAPIURL()))
	clicks := make(chan Click, 4)
	judge := func(ctx context.Context, c Click) error {
		clicks <- c
		if c.Outcome == Approve && c.Window == 0 {
			return errors.New("you are not an approver for this request")
		}
		return nil
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunSocketMode(ctx, api, judge, testLogger(t)) }()
	acks := make(chan string, 8)
	go func() {
		for {
			select {
			case m := <-f.srv.SeenFeed:
				acks <- m
			case <-ctx.Done():
				return
			}
		}
	}()
	acked := func(id string) {
		t.Helper()
		if a := receive(t, acks, "ack of "+id); !strings.Contains(a, `"envelope_id":"`+id+`"`) {
			t.Fatalf("ack %s, want envelope %s", a, id)
		}
	}

	// Approve for 15 minutes.
	f.srv.SendToWebsocket(envelope("env-1", click(t, "airlock_approve_900s", testApproval+"|900", "1700000010.123456")))
	c := receive(t, clicks, "approve click")
	if c.Outcome != Approve || c.Window != 15*time.Minute || c.ApprovalID != testApproval || c.UserID != "U0APPROVER" || c.Key == "" {
		t.Errorf("click = %+v", c)
	}
	acked("env-1")

	// Deny: the dialog opens (before the ack), its submission is the click.
	f.srv.SendToWebsocket(envelope("env-2", click(t, "airlock_deny", testApproval+"|0", "1700000011.000001")))
	acked("env-2")
	views := f.viewsSeen(t)
	if len(views) != 1 {
		t.Fatalf("views.open called %d times", len(views))
	}
	f.srv.SendToWebsocket(envelope("env-3", submission(t, views[0].View.PrivateMetadata, "not today")))
	c = receive(t, clicks, "deny click")
	if c.Outcome != Deny || c.Reason != "not today" || c.ApprovalID != testApproval || c.Channel != testChannel {
		t.Errorf("click = %+v", c)
	}
	acked("env-3")

	// A refused click: acknowledged, then the clicker is told why.
	f.srv.SendToWebsocket(envelope("env-4", click(t, "airlock_approve_once", testApproval+"|0", "1700000012.000001")))
	receive(t, clicks, "refused click")
	acked("env-4")
	deadline := time.Now().Add(5 * time.Second)
	for len(f.ephemerals(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if e := f.ephemerals(t); len(e) != 1 || e[0].User != "U0APPROVER" || e[0].Text != "you are not an approver for this request" {
		t.Errorf("ephemerals = %+v", e)
	}

	cancel()
	if err := receive(t, done, "RunSocketMode's return"); err != nil {
		t.Errorf("RunSocketMode = %v after ctx ended, want nil", err)
	}
}

// A refused app-level token ends RunSocketMode with an error rather than
// a retry loop. slacktest accepts any token, so this test serves
// apps.connections.open on its mux, answering as Slack does to a bad one.
func TestRunSocketModeBadAppToken(t *testing.T) {
	f := newFakeSlack(t, func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
		})
	})
	api := slack.New("xoxb-test-bot-token",
		slack.OptionAppLevelToken("xapp-revoked"),
		slack.OptionAPIURL(f.srv.GetAPIURL()))
	done := make(chan error, 1)
	go func() {
		done <- RunSocketMode(t.Context(), api, func(context.Context, Click) error { return nil }, testLogger(t))
	}()
	if err := receive(t, done, "RunSocketMode's return"); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("RunSocketMode = %v, want invalid_auth", err)
	}
}

func TestParseButtonValue(t *testing.T) {
	for _, tc := range []struct {
		in     string
		id     string
		window time.Duration
		ok     bool
	}{
		{testApproval + "|0", testApproval, 0, true},
		{testApproval + "|900", testApproval, 15 * time.Minute, true},
		{testApproval, "", 0, false},
		{"|900", "", 0, false},
		{testApproval + "|-60", "", 0, false},
		{testApproval + "|15m", "", 0, false},
		{testApproval + "|99999999999999", "", 0, false},
	} {
		id, w, err := parseButtonValue(tc.in)
		if (err == nil) != tc.ok || id != tc.id || w != tc.window {
			t.Errorf("parseButtonValue(%q) = %q, %v, %v", tc.in, id, w, err)
		}
	}
}
