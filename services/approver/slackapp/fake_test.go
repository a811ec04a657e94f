package slackapp

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// The tests talk to slack-go's slacktest server, a fake Slack served
// in-process: a real Slack workspace cannot be reached (nor should be)
// from a test.
//
// slacktest serves chat.postMessage, chat.postEphemeral,
// users.lookupByEmail and apps.connections.open, but not chat.update nor
// views.open: fakeSlack adds those two to slacktest's own mux, recording
// what they receive.
type fakeSlack struct {
	srv *slacktest.Server
	api *slack.Client

	mu      sync.Mutex
	updates []url.Values      // chat.update forms
	views   []json.RawMessage // views.open bodies
}

const (
	testChannel  = "C0APPROVALS"
	testApproval = "01J9ZQ4X8Y7W6V5T4S3R2Q1P0N"
	testSecret   = "8f742231b10e8888abcd99yyyzzz85a5"
)

func newFakeSlack(t *testing.T, binders ...slacktest.Binder) *fakeSlack {
	t.Helper()
	f := &fakeSlack{}
	binders = append(binders, func(c slacktest.Customize) {
		c.Handle("/chat.update", f.chatUpdate)
		c.Handle("/views.open", f.viewsOpen)
	})
	f.srv = slacktest.NewTestServer(binders...)
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	f.api = slack.New("xoxb-test-bot-token", slack.OptionAPIURL(f.srv.GetAPIURL()))
	return f
}

func (f *fakeSlack) chatUpdate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.updates = append(f.updates, r.PostForm)
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts"), "text": r.PostForm.Get("text"),
	})
}

func (f *fakeSlack) viewsOpen(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.views = append(f.views, body)
	f.mu.Unlock()
	_, _ = w.Write([]byte(`{"ok":true,"view":{"id":"V0DENYDIALOG","type":"modal"}}`))
}

func (f *fakeSlack) updatesSeen() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.updates...)
}

// openedView is what views.open received.
type openedView struct {
	TriggerID string                 `json:"trigger_id"`
	View      slack.ModalViewRequest `json:"view"`
}

func (f *fakeSlack) viewsSeen(t *testing.T) []openedView {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []openedView
	for _, b := range f.views {
		var v openedView
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("reading views.open body: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// ephemerals are the chat.postEphemeral messages slacktest received: it
// records them among what it relayed to its WebSocket, with whatever a
// test sent there itself.
func (f *fakeSlack) ephemerals(t *testing.T) []slack.Message {
	t.Helper()
	var out []slack.Message
	for _, s := range f.srv.GetSeenOutboundMessages() {
		var m slack.Message
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("reading a slacktest message: %v", err)
		}
		if m.Type == slack.TYPE_MESSAGE {
			out = append(out, m)
		}
	}
	return out
}

// watch connects to slacktest's WebSocket, where it relays each message
// chat.postMessage accepted (as it decoded it), and returns them.
func (f *fakeSlack) watch(t *testing.T) <-chan string {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(f.srv.GetWSURL(), nil)
	if err != nil {
		t.Fatalf("connecting to slacktest's websocket: %v", err)
	}
	t.Cleanup(func() {
		// A close frame: slacktest mishandles a connection that just drops.
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
	})
	out := make(chan string, 16)
	go func() {
		defer close(out)
		for {
			_, m, err := conn.ReadMessage()
			if err != nil {
				return
			}
			out <- string(m)
		}
	}()
	return out
}

func receive[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		panic("unreachable")
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// payload reads a testdata payload and lets the test change it.
func payload(t *testing.T, name string, change func(p map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if change != nil {
		change(p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// click is a block_actions payload for one of the message's buttons.
func click(t *testing.T, actionID, value, actionTS string) string {
	return payload(t, "block_actions.json", func(p map[string]any) {
		a := p["actions"].([]any)[0].(map[string]any)
		a["action_id"], a["value"], a["action_ts"] = actionID, value, actionTS
	})
}

// submission is a view_submission payload of the deny dialog.
func submission(t *testing.T, metadata, reason string) string {
	return payload(t, "view_submission.json", func(p map[string]any) {
		v := p["view"].(map[string]any)
		v["private_metadata"] = metadata
		v["state"].(map[string]any)["values"].(map[string]any)["reason"].(map[string]any)["reason"].(map[string]any)["value"] = reason
	})
}
