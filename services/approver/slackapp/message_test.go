package slackapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

func testRequest() Request {
	return Request{
		ApprovalID: testApproval,
		RequestID:  "01J9ZQ4X8Y7W6V5T4S3R2Q1P0M",
		Identity:   "agent:ci-bot@acme",
		Groups:     []string{"agents", "backend"},
		Connection: "github",
		Action:     "contents.write",
		// Agent-controlled text trying to ping the channel and make a link.
		Summary: "contents.write on acme/prod-api path src/main.go ref refs/heads/fix-1 <!channel> <https://evil.example|click>",
		Method:  "PUT",
		Path:    "/repos/acme/prod-api/contents/src/main.go",
		Rule:    "prod-writes-need-approval",
		Reason:  "writes to production repositories need a human",
		Preview: "--- a/src/main.go\n+++ b/src/main.go\n+func main() { fmt.Println(\"```<!here>\") }",
		Windows: []time.Duration{15 * time.Minute, time.Hour},
		Expires: time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC),
	}
}

// The approval message reaches slacktest's chat.postMessage, which decodes
// its blocks (it answers 500 to blocks it cannot read) and relays the
// message on its WebSocket, where the test reads it back.
func TestPost(t *testing.T) {
	f := newFakeSlack(t)
	feed := f.watch(t)
	r := testRequest()

	channel, ts, err := NewPoster(f.api, testChannel).Post(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if channel != testChannel || ts == "" {
		t.Fatalf("Post = %q, %q; want %q and a ts", channel, ts, testChannel)
	}

	var m slack.Message
	if err := json.Unmarshal([]byte(receive(t, feed, "posted message")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Channel != testChannel {
		t.Errorf("message went to %q, want %q", m.Channel, testChannel)
	}
	blocks, _ := json.Marshal(m.Blocks)
	for _, want := range []string{
		"agent:ci-bot@acme", "agents, backend", // who
		"github", "contents.write", "PUT /repos/acme/prod-api/contents/src/main.go", // what
		"contents.write on acme/prod-api path src/main.go ref refs/heads/fix-1", // summary
		"prod-writes-need-approval", "writes to production repositories need a human", // rule, reason
		"+func main() { fmt.Println(\"```<!here>\") }", // preview, literal in a preformatted block
		"<!date^1795170600^",                           // expiry
	} {
		if !strings.Contains(string(blocks), want) && !strings.Contains(string(blocks), jsonText(want)) {
			t.Errorf("blocks lack %q\n%s", want, blocks)
		}
	}
	// The agent's text cannot mention the channel nor make a link.
	for _, bad := range []string{jsonText("<!channel>"), jsonText("<https://evil")} {
		if strings.Contains(string(blocks), bad) {
			t.Errorf("blocks carry %s unescaped", bad)
		}
	}
	if !strings.Contains(string(blocks), jsonText("&lt;!channel&gt;")) {
		t.Errorf("the summary's <!channel> is not escaped:\n%s", blocks)
	}

	type button struct{ text, value string }
	var got []button
	for _, b := range m.Blocks.BlockSet {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				btn := e.(*slack.ButtonBlockElement)
				got = append(got, button{btn.Text.Text, btn.Value})
			}
		}
	}
	want := []button{
		{"Approve once", testApproval + "|0"},
		{"Approve for 15 min", testApproval + "|900"},
		{"Approve for 1 h", testApproval + "|3600"},
		{"Deny", testApproval + "|0"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("buttons = %v, want %v", got, want)
	}
}

// jsonText is s as encoding/json writes it inside a string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestPostRefusesBadRequest(t *testing.T) {
	f := newFakeSlack(t)
	r := testRequest()
	r.ApprovalID = ""
	r.Windows = []time.Duration{-time.Minute, 15 * time.Minute, 15 * time.Minute}
	_, _, err := NewPoster(f.api, testChannel).Post(t.Context(), r)
	for _, want := range []string{"approval id is empty", "window -1m0s is not a positive", "window 15m0s is offered twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Post = %v, want it to report %q", err, want)
		}
	}
}

func TestPreviewTruncated(t *testing.T) {
	blocks, _ := json.Marshal(previewBlocks(strings.Repeat("x", 3000)))
	if !strings.Contains(string(blocks), `"`+strings.Repeat("x", MaxPreview-1)+`…"`) {
		t.Error("the preview is not cut to MaxPreview characters")
	}
	if !strings.Contains(string(blocks), "Preview truncated: first 2,500 of 3,000 characters.") {
		t.Errorf("no truncation note:\n%.300s", blocks)
	}
	blocks, _ = json.Marshal(previewBlocks(""))
	if !strings.Contains(string(blocks), "No preview of the change.") {
		t.Errorf("an empty preview is not said:\n%s", blocks)
	}
}

// slacktest has no chat.update: fakeSlack records it on slacktest's mux.
func TestUpdate(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		d    Decision
		want string
	}{
		{"once", Decision{Outcome: Approve, By: "U0APPROVER", At: at}, "Approved once by <@U0APPROVER> <!date^1795169100^"},
		{"window", Decision{Outcome: Approve, Window: 15 * time.Minute, By: "U0APPROVER", At: at}, "Approved for 15 minutes by <@U0APPROVER>"},
		{"by the CLI", Decision{Outcome: Approve, By: "cli:<alice>", At: at}, "Approved once by cli:&lt;alice&gt; <!date"},
		{"deny", Decision{Outcome: Deny, By: "U0APPROVER", Reason: "not during the freeze <!here>", At: at}, "Denied by <@U0APPROVER> <!date^1795169100^{date_short_pretty} {time}|2026-11-20 10:05 UTC>: not during the freeze &lt;!here&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t)
			if err := NewPoster(f.api, testChannel).Update(t.Context(), testChannel, "1700000000.000100", testRequest(), tc.d); err != nil {
				t.Fatal(err)
			}
			u := f.updatesSeen()
			if len(u) != 1 {
				t.Fatalf("chat.update called %d times", len(u))
			}
			if u[0].Get("channel") != testChannel || u[0].Get("ts") != "1700000000.000100" {
				t.Errorf("updated %s %s", u[0].Get("channel"), u[0].Get("ts"))
			}
			var blocks slack.Blocks
			if err := json.Unmarshal([]byte(u[0].Get("blocks")), &blocks); err != nil {
				t.Fatal(err)
			}
			var outcome string
			for _, b := range blocks.BlockSet {
				if b.BlockType() == slack.MBTAction {
					t.Error("the buttons are still there")
				}
				if s, ok := b.(*slack.SectionBlock); ok && s.BlockID == "airlock_outcome" {
					outcome = s.Text.Text
				}
			}
			if !strings.Contains(outcome, tc.want) {
				t.Errorf("outcome = %q, want it to contain %q", outcome, tc.want)
			}
			// The notification text: the agent's text escaped, Airlock's
			// own markup (the mention, the date) not.
			if text := u[0].Get("text"); !strings.Contains(text, "&lt;!channel&gt;") || strings.Contains(text, "&lt;@") {
				t.Errorf("text = %q", text)
			}
			if !strings.Contains(u[0].Get("blocks"), "prod-writes-need-approval") {
				t.Error("the request is no longer described")
			}
		})
	}
}

func TestUpdateRefusesUnknownOutcome(t *testing.T) {
	f := newFakeSlack(t)
	err := NewPoster(f.api, testChannel).Update(t.Context(), testChannel, "1.2", testRequest(), Decision{Outcome: "maybe"})
	if err == nil || len(f.updatesSeen()) != 0 {
		t.Fatalf("Update = %v, want an error and no call", err)
	}
}

// slacktest's chat.postEphemeral records the message it received.
func TestRefuse(t *testing.T) {
	f := newFakeSlack(t)
	if err := NewPoster(f.api, testChannel).Refuse(t.Context(), testChannel, "U0CLICKER", "you cannot approve your own request"); err != nil {
		t.Fatal(err)
	}
	got := f.ephemerals(t)
	if len(got) != 1 || got[0].Channel != testChannel || got[0].User != "U0CLICKER" || got[0].Text != "you cannot approve your own request" {
		t.Fatalf("ephemerals = %+v", got)
	}
}

// slacktest answers users.lookupByEmail with its one default user
// (W012A3CDE) whatever the email.
func TestLookupEmails(t *testing.T) {
	f := newFakeSlack(t)
	ids, err := LookupEmails(t.Context(), f.api, []string{"spengler@example.com", "spengler@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids["spengler@example.com"] != "W012A3CDE" {
		t.Fatalf("ids = %v", ids)
	}
}

// slacktest's users.lookupByEmail never says users_not_found, so this test
// serves that method on slacktest's mux with a directory of one user, and
// a failure for one address.
func TestLookupEmailsNotFound(t *testing.T) {
	f := newFakeSlack(t, func(c slacktest.Customize) {
		c.Handle("/users.lookupByEmail", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			switch r.PostForm.Get("email") {
			case "ann@example.com":
				_, _ = fmt.Fprint(w, `{"ok":true,"user":{"id":"U0ANN","name":"ann"}}`)
			case "eve@example.com":
				_, _ = fmt.Fprint(w, `{"ok":false,"error":"missing_scope","needed":"users:read.email"}`)
			default:
				_, _ = fmt.Fprint(w, `{"ok":false,"error":"users_not_found"}`)
			}
		})
	})
	ids, err := LookupEmails(t.Context(), f.api, []string{"ann@example.com", "ci-bot@example.com", "eve@example.com"})
	if len(ids) != 1 || ids["ann@example.com"] != "U0ANN" {
		t.Errorf("ids = %v, want ann only", ids)
	}
	if err == nil || !strings.Contains(err.Error(), "eve@example.com: missing_scope") || strings.Contains(err.Error(), "ci-bot") {
		t.Errorf("err = %v, want eve's failed lookup only (no Slack account is not an error)", err)
	}
}
