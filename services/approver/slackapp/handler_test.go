package slackapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// judgeRecorder is a Judge that records its clicks and answers err.
type judgeRecorder struct {
	mu     sync.Mutex
	clicks []Click
	err    error
}

func (j *judgeRecorder) judge(ctx context.Context, c Click) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.clicks = append(j.clicks, c)
	return j.err
}

func (j *judgeRecorder) seen() []Click {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Click(nil), j.clicks...)
}

func newTestHandler(t *testing.T, f *fakeSlack, judge Judge) *handler {
	t.Helper()
	h := NewHandler(testSecret, f.api, judge, testLogger(t)).(*handler)
	t.Cleanup(h.posts.Wait)
	return h
}

// sign is Slack's v0 scheme, written out here rather than taken from
// slack-go, so that the test checks the handler against the scheme.
func sign(secret string, ts int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":" + body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// interaction is an interaction POST as Slack sends it: the payload as a
// form field, signed with secret at time at.
func interaction(secret string, at time.Time, payload string) *http.Request {
	body := url.Values{"payload": {payload}}.Encode()
	return signed(secret, at, body)
}

func signed(secret string, at time.Time, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("X-Slack-Signature", sign(secret, at.Unix(), body))
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerApproveForWindow(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)

	w := serve(h, interaction(testSecret, time.Now(), click(t, "airlock_approve_900s", testApproval+"|900", "1700000010.123456")))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := j.seen()
	if len(got) != 1 {
		t.Fatalf("judge saw %d clicks", len(got))
	}
	c := got[0]
	if len(c.Key) != 64 {
		t.Errorf("Key = %q, want a hex sha256", c.Key)
	}
	c.Key = ""
	want := Click{
		ApprovalID: testApproval, Outcome: Approve, Window: 15 * time.Minute,
		UserID: "U0APPROVER", UserName: "ann", Channel: testChannel, MessageTS: "1700000000.000100",
	}
	if c != want {
		t.Errorf("click = %+v\nwant    %+v", c, want)
	}
}

func TestHandlerApproveOnce(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)
	if w := serve(h, interaction(testSecret, time.Now(), click(t, "airlock_approve_once", testApproval+"|0", "1700000010.5"))); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := j.seen(); len(got) != 1 || got[0].Outcome != Approve || got[0].Window != 0 {
		t.Fatalf("clicks = %+v, want one approve once", got)
	}
}

// A Deny click opens the dialog (slacktest has no views.open: fakeSlack
// records it); the dialog's submission, carrying back the private_metadata
// views.open was given, is the Click.
func TestHandlerDeny(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)

	if w := serve(h, interaction(testSecret, time.Now(), click(t, "airlock_deny", testApproval+"|0", "1700000011.000001"))); w.Code != http.StatusOK {
		t.Fatalf("deny click: status %d: %s", w.Code, w.Body)
	}
	if len(j.seen()) != 0 {
		t.Fatal("a deny click reached the judge before its reason")
	}
	views := f.viewsSeen(t)
	if len(views) != 1 {
		t.Fatalf("views.open called %d times", len(views))
	}
	v := views[0]
	if v.TriggerID != "1700000010.1234567890.0123456789abcdef0123456789abcdef" || v.View.CallbackID != denyCallbackID {
		t.Errorf("views.open got trigger %q, callback %q", v.TriggerID, v.View.CallbackID)
	}
	var meta denyMeta
	if err := json.Unmarshal([]byte(v.View.PrivateMetadata), &meta); err != nil {
		t.Fatal(err)
	}
	if meta != (denyMeta{ApprovalID: testApproval, Channel: testChannel, TS: "1700000000.000100"}) {
		t.Errorf("private_metadata = %+v", meta)
	}

	w := serve(h, interaction(testSecret, time.Now(), submission(t, v.View.PrivateMetadata, "  not during the release freeze\n")))
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("submission: status %d, body %q; want 200 and an empty body (closes the dialog)", w.Code, w.Body)
	}
	got := j.seen()
	if len(got) != 1 {
		t.Fatalf("judge saw %d clicks", len(got))
	}
	c := got[0]
	if c.Key == "" {
		t.Error("no Key")
	}
	c.Key = ""
	want := Click{
		ApprovalID: testApproval, Outcome: Deny, UserID: "U0APPROVER", UserName: "ann",
		Reason: "not during the release freeze", Channel: testChannel, MessageTS: "1700000000.000100",
	}
	if c != want {
		t.Errorf("click = %+v\nwant    %+v", c, want)
	}
}

// A blank reason keeps the dialog open with an error under the field.
func TestHandlerDenyNeedsReason(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)
	meta := `{"approval_id":"` + testApproval + `","channel":"C0APPROVALS","ts":"1700000000.000100"}`
	w := serve(h, interaction(testSecret, time.Now(), submission(t, meta, "   ")))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"response_action":"errors"`) || !strings.Contains(w.Body.String(), `"reason"`) {
		t.Fatalf("status %d, body %s; want a response_action errors for the reason", w.Code, w.Body)
	}
	if len(j.seen()) != 0 {
		t.Error("a blank deny reached the judge")
	}
}

func TestHandlerRefuses(t *testing.T) {
	approve := click(t, "airlock_approve_900s", testApproval+"|900", "1700000010.123456")
	form := url.Values{"payload": {approve}}.Encode()
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		now    time.Duration // the handler's clock, from the real one
		status int
		reason string
	}{
		{
			name: "unsigned",
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			},
			status: http.StatusUnauthorized, reason: "missing",
		},
		{
			name:   "bad signature",
			req:    func() *http.Request { return interaction("another-secret", time.Now(), approve) },
			status: http.StatusUnauthorized, reason: "signature does not match",
		},
		{
			name: "body changed after signing",
			req: func() *http.Request {
				r := interaction(testSecret, time.Now(), approve)
				tampered := strings.Replace(form, "900", "999", 1)
				r.Body = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tampered)).Body
				return r
			},
			status: http.StatusUnauthorized, reason: "signature does not match",
		},
		{
			name: "timestamp older than 5 minutes",
			req: func() *http.Request {
				return interaction(testSecret, time.Now().Add(-5*time.Minute-time.Second), approve)
			},
			status: http.StatusUnauthorized, reason: "more than 5 minutes",
		},
		{
			name: "timestamp more than 5 minutes ahead",
			req: func() *http.Request {
				return interaction(testSecret, time.Now().Add(5*time.Minute+time.Second), approve)
			},
			status: http.StatusUnauthorized, reason: "more than 5 minutes",
		},
		{
			// Signed now by the real clock, but the handler's clock is 6
			// minutes on: the check uses the handler's clock.
			name:   "stale by the handler's clock",
			req:    func() *http.Request { return interaction(testSecret, time.Now(), approve) },
			now:    6 * time.Minute,
			status: http.StatusUnauthorized, reason: "more than 5 minutes",
		},
		{
			name: "timestamp not a number",
			req: func() *http.Request {
				r := interaction(testSecret, time.Now(), approve)
				r.Header.Set("X-Slack-Request-Timestamp", "yesterday")
				return r
			},
			status: http.StatusUnauthorized, reason: "not a Unix time",
		},
		{
			name: "body over 64 KiB",
			req: func() *http.Request {
				return signed(testSecret, time.Now(), form+"&pad="+strings.Repeat("a", 64<<10))
			},
			status: http.StatusRequestEntityTooLarge, reason: "over 65536 bytes",
		},
		{
			name:   "payload not JSON",
			req:    func() *http.Request { return interaction(testSecret, time.Now(), "{not json") },
			status: http.StatusBadRequest, reason: "payload",
		},
		{
			name:   "no payload field",
			req:    func() *http.Request { return signed(testSecret, time.Now(), "text=hello") },
			status: http.StatusBadRequest, reason: "payload",
		},
		{
			name: "payload in the query string only",
			req: func() *http.Request {
				r := signed(testSecret, time.Now(), "")
				r.URL.RawQuery = form
				return r
			},
			status: http.StatusBadRequest, reason: "payload",
		},
		{
			name: "Airlock button with a bad value",
			req: func() *http.Request {
				return interaction(testSecret, time.Now(), click(t, "airlock_approve_900s", testApproval+"|soon", "1.2"))
			},
			status: http.StatusBadRequest, reason: "no valid window",
		},
		{
			name:   "GET",
			req:    func() *http.Request { return httptest.NewRequest(http.MethodGet, "/slack/interactions", nil) },
			status: http.StatusMethodNotAllowed, reason: "POST",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t)
			var j judgeRecorder
			h := newTestHandler(t, f, j.judge)
			h.now = func() time.Time { return time.Now().Add(tc.now) }

			w := serve(h, tc.req())
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var e struct{ Error, Reason string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("body %q is not a JSON error", w.Body)
			}
			if !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", e.Reason, tc.reason)
			}
			if strings.Contains(w.Body.String(), testSecret) {
				t.Error("the answer carries the signing secret")
			}
			if len(j.seen()) != 0 {
				t.Error("the judge was called")
			}
		})
	}
}

// Replay detection is the judge's; the Key is what it detects with.
func TestHandlerKey(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)
	meta := `{"approval_id":"` + testApproval + `","channel":"C0APPROVALS","ts":"1700000000.000100"}`

	for _, r := range []*http.Request{
		interaction(testSecret, time.Now(), click(t, "airlock_approve_900s", testApproval+"|900", "1700000010.123456")),
		// The same payload again, signed a little later, as a Slack retry is.
		interaction(testSecret, time.Now().Add(-time.Minute), click(t, "airlock_approve_900s", testApproval+"|900", "1700000010.123456")),
		// Another click of the same button.
		interaction(testSecret, time.Now(), click(t, "airlock_approve_900s", testApproval+"|900", "1700000042.000001")),
		// Another button.
		interaction(testSecret, time.Now(), click(t, "airlock_approve_once", testApproval+"|0", "1700000010.123456")),
		// A deny submitted, twice.
		interaction(testSecret, time.Now(), submission(t, meta, "no")),
		interaction(testSecret, time.Now(), submission(t, meta, "no")),
	} {
		if w := serve(h, r); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	c := j.seen()
	if len(c) != 6 {
		t.Fatalf("judge saw %d clicks", len(c))
	}
	if c[0].Key != c[1].Key {
		t.Error("the same payload twice has two Keys")
	}
	if c[4].Key != c[5].Key {
		t.Error("the same deny submission twice has two Keys")
	}
	keys := map[string]bool{c[0].Key: true, c[2].Key: true, c[3].Key: true, c[4].Key: true}
	if len(keys) != 4 {
		t.Error("different interactions share a Key")
	}
}

// A refusal is shown to the clicker alone, after Slack has had its 200.
func TestHandlerJudgeErrorShownEphemerally(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"refusal", errors.New("you cannot approve your own request"), "you cannot approve your own request"},
		{"deadline", context.DeadlineExceeded, msgTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t)
			var deadline time.Duration
			h := newTestHandler(t, f, func(ctx context.Context, c Click) error {
				d, ok := ctx.Deadline()
				if ok {
					deadline = time.Until(d)
				}
				return tc.err
			})
			w := serve(h, interaction(testSecret, time.Now(), click(t, "airlock_approve_once", testApproval+"|0", "1700000010.123456")))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if deadline <= 0 || deadline > judgeTimeout {
				t.Errorf("the judge had %v, want a deadline within %v", deadline, judgeTimeout)
			}
			h.posts.Wait()
			got := f.ephemerals(t)
			if len(got) != 1 || got[0].User != "U0APPROVER" || got[0].Channel != testChannel || got[0].Text != tc.want {
				t.Fatalf("ephemerals = %+v, want %q to U0APPROVER", got, tc.want)
			}
		})
	}
}

// Interactions that are not Airlock's are answered 200 and left alone.
func TestHandlerIgnoresOthers(t *testing.T) {
	f := newFakeSlack(t)
	var j judgeRecorder
	h := newTestHandler(t, f, j.judge)
	for _, p := range []string{
		click(t, "someone_elses_button", "x", "1.2"),
		`{"type":"view_closed","user":{"id":"U0APPROVER"},"view":{"id":"V1","callback_id":"airlock_deny"}}`,
		`{"type":"view_submission","user":{"id":"U0APPROVER"},"view":{"id":"V1","callback_id":"another_app_dialog"}}`,
	} {
		if w := serve(h, interaction(testSecret, time.Now(), p)); w.Code != http.StatusOK {
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
	}
	if len(j.seen()) != 0 || len(f.viewsSeen(t)) != 0 {
		t.Error("a foreign interaction was acted on")
	}
}
