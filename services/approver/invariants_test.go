package approver

// The approver's security invariants, against a real embedded NATS server
// with the provisioned stream and KV buckets (pkg/bustest): a grant covers
// only the identity it was given for; an approval is decided once, however
// many clicks, commands or replicas try; a window Slack did not offer, or
// longer than a day, is refused. Only Slack is faked (recordingSlack): the
// bus, the buckets and the compare-and-set are the real ones.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver/slackapp"
)

// invHold is the test connection's hold timeout.
const invHold = time.Minute

// recordingSlack stands in for Slack: it records the messages posted and
// the updates made to them.
type recordingSlack struct {
	mu      sync.Mutex
	posted  []string
	updates map[string][]slackapp.Decision
}

func (r *recordingSlack) Post(_ context.Context, req slackapp.Request) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posted = append(r.posted, req.ApprovalID)
	return "CAPPROVALS", "ts-" + req.ApprovalID, nil
}

func (r *recordingSlack) Update(_ context.Context, _, ts string, _ slackapp.Request, d slackapp.Decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.updates == nil {
		r.updates = map[string][]slackapp.Decision{}
	}
	r.updates[ts] = append(r.updates[ts], d)
	return nil
}

func (r *recordingSlack) Refuse(context.Context, string, string, string) error { return nil }

func (r *recordingSlack) updatesOf(id string) []slackapp.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slackapp.Decision(nil), r.updates["ts-"+id]...)
}

// invHarness is a provisioned bus, an approver (more replicas on demand),
// and an observer that sees every decision and approval event published.
type invHarness struct {
	t         *testing.T
	ctx       context.Context
	srv       *bustest.Server
	cfg       *config.Config
	slack     *recordingSlack
	svc       *Service
	approvals jetstream.KeyValue
	grants    jetstream.KeyValue

	observer *nats.Conn
	events   chan *nats.Msg
	conns    []*nats.Conn // the approvers'
	round    int
	mu       sync.Mutex
	seen     map[string][][]byte // by subject
}

func newInvHarness(t *testing.T, windows ...time.Duration) *invHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if len(windows) == 0 {
		windows = []time.Duration{15 * time.Minute, time.Hour}
	}
	h := &invHarness{
		t: t, ctx: ctx, srv: bustest.Start(t), slack: &recordingSlack{}, seen: map[string][][]byte{},
		cfg: &config.Config{
			Connections: []config.Connection{{Name: "prod", Type: "http", HoldTimeout: invHold}},
			Approvals: config.Approvals{
				Approvers: []string{"UANN", "UBOB"},
				Windows:   windows,
				GrantTTL:  time.Hour,
			},
		},
	}
	h.svc = h.replica("approver-1")
	_, js := h.srv.Connect(t, "inv-operator")
	var err error
	if h.approvals, err = js.KeyValue(ctx, subject.ApprovalsBucket); err != nil {
		t.Fatal(err)
	}
	if h.grants, err = js.KeyValue(ctx, subject.GrantsBucket); err != nil {
		t.Fatal(err)
	}
	// Core subscriptions see every publish, even one JetStream would drop
	// as a duplicate of an earlier message id: a second decision cannot
	// hide behind the stream's deduplication.
	h.observer, _ = h.srv.Connect(t, "inv-observer")
	h.events = make(chan *nats.Msg, 4096)
	for _, subj := range []string{subject.DecisionPrefix + ">", subject.ApprovalPrefix + ">", "inv.sentinel.>"} {
		if _, err := h.observer.ChanSubscribe(subj, h.events); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.observer.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

// replica is another approver on its own connection, sharing the buckets.
func (h *invHarness) replica(name string) *Service {
	h.t.Helper()
	nc, js := h.srv.Connect(h.t, name)
	h.conns = append(h.conns, nc)
	svc, err := New(h.ctx, js, h.cfg, h.slack, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// collect collects what was published up to now. A publish reaches a
// core subscriber in the order its connection sent it, but JetStream may
// ack it before the subscriber has it: so each approver connection sends a
// sentinel after whatever it published, and collect reads up to every
// sentinel.
func (h *invHarness) collect() {
	h.t.Helper()
	h.round++
	prefix := fmt.Sprintf("inv.sentinel.%d.", h.round)
	for i, nc := range h.conns {
		if err := nc.Publish(prefix+fmt.Sprint(i), nil); err != nil {
			h.t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			h.t.Fatal(err)
		}
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for want := len(h.conns); want > 0; {
		select {
		case m := <-h.events:
			switch {
			case strings.HasPrefix(m.Subject, prefix):
				want--
			case strings.HasPrefix(m.Subject, "inv.sentinel."):
			default:
				h.seen[m.Subject] = append(h.seen[m.Subject], m.Data)
			}
		case <-timeout.C:
			h.t.Fatal("the observer did not see the approvers' sentinels within 10 s")
		}
	}
}

// decisions are the decisions published for id.
func (h *invHarness) decisions(id string) []event.Decision {
	h.t.Helper()
	h.collect()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event.Decision
	for _, data := range h.seen[subject.Decision(id)] {
		var d event.Decision
		if err := json.Unmarshal(data, &d); err != nil {
			h.t.Fatalf("decision %s: %v", data, err)
		}
		out = append(out, d)
	}
	return out
}

// approvalEvents are the approval events of a kind published for id.
func (h *invHarness) approvalEvents(id, kind string) []event.Approval {
	h.t.Helper()
	h.collect()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event.Approval
	for _, data := range h.seen[subject.Approval(id)] {
		var a event.Approval
		if err := json.Unmarshal(data, &a); err != nil {
			h.t.Fatalf("approval event %s: %v", data, err)
		}
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// verdict is an approve verdict for identity's PUT of body to the same
// file of the same repository, made at.
func invVerdict(identity, body string, at time.Time) event.Verdict {
	id := event.NewID()
	sum := sha256.Sum256([]byte(body))
	req := &event.Request{
		V: event.Version, ID: id, Time: at, Connection: "prod", ConnectionType: "http",
		Identity: event.Identity{Subject: identity, Issuer: "https://issuer.test", Groups: []string{"agents"}},
		Method:   "PUT", Path: "/repos/acme/api/contents/deploy.yml",
		Body: &event.Body{Size: int64(len(body)), ContentLength: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Inline: []byte(body)},
	}
	return event.Verdict{
		V: event.Version, ID: id, Time: at, Effect: event.EffectApprove,
		Rule: "prod-writes-need-approval", Reason: "writes to production need a human",
		ForwardPath: req.Path, Request: req,
		Operation: &event.Operation{Action: "contents.write", Write: true, Repo: "acme/api", Path: "deploy.yml",
			Summary: "contents.write on acme/api path deploy.yml"},
	}
}

// verdict hands an approve verdict to svc, as its consumer does.
func (h *invHarness) verdict(svc *Service, v event.Verdict) {
	h.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := svc.handleVerdict(h.ctx, data); err != nil {
		h.t.Fatalf("handling the verdict for %s: %v", v.Request.Identity.Subject, err)
	}
}

// approval reads an approval's entry: its value and revision.
func (h *invHarness) approval(id string) (Approval, uint64) {
	h.t.Helper()
	e, err := h.approvals.Get(h.ctx, approvalKey(id))
	if err != nil {
		h.t.Fatalf("approval %s: %v", id, err)
	}
	var a Approval
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		h.t.Fatal(err)
	}
	return a, e.Revision()
}

// pending asks for the approval of v and checks it is pending, posted,
// and undecided.
func (h *invHarness) pending(v event.Verdict) Approval {
	h.t.Helper()
	h.verdict(h.svc, v)
	a, _ := h.approval(v.ID)
	if a.State != StatePending || a.TS == "" {
		h.t.Fatalf("approval %s: state %q, ts %q: want pending and posted", v.ID, a.State, a.TS)
	}
	if ds := h.decisions(v.ID); len(ds) != 0 {
		h.t.Fatalf("a decision before anyone decided: %+v", ds)
	}
	return a
}

// grant reads a grant, if there is one.
func (h *invHarness) grant(key string) (Grant, bool) {
	h.t.Helper()
	e, err := h.grants.Get(h.ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Grant{}, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var g Grant
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		h.t.Fatal(err)
	}
	return g, true
}

// passedUnderGrant checks that v was approved by a grant at once, without
// asking anyone.
func (h *invHarness) passedUnderGrant(v event.Verdict, grantOf string) {
	h.t.Helper()
	ds := h.decisions(v.ID)
	if len(ds) != 1 || ds[0].Outcome != event.OutcomeApprove || !strings.HasPrefix(ds[0].By, "grant:"+grantOf) {
		h.t.Fatalf("%s's request under the grant of %s: decisions %+v, want one approve by grant:%s",
			v.Request.Identity.Subject, grantOf, ds, grantOf)
	}
	if _, err := h.approvals.Get(h.ctx, approvalKey(v.ID)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		h.t.Fatalf("%s's request under a grant was asked for: %v", v.Request.Identity.Subject, err)
	}
}

// heldForApproval checks that v was not let through: no decision, and a
// pending approval asked of a human, for v's own identity.
func (h *invHarness) heldForApproval(v event.Verdict) {
	h.t.Helper()
	who := v.Request.Identity.Subject
	if ds := h.decisions(v.ID); len(ds) != 0 {
		h.t.Fatalf("%s's request passed without asking anyone: %+v", who, ds)
	}
	a, _ := h.approval(v.ID)
	if a.State != StatePending || a.Identity != who {
		h.t.Fatalf("%s's request: approval state %q identity %q, want pending for %s", who, a.State, a.Identity, who)
	}
	if len(h.approvalEvents(v.ID, event.ApprovalRequested)) != 1 {
		h.t.Fatalf("%s's request: no approval requested event", who)
	}
}

// TestGrantCoversOnlyItsIdentity: a window and a single-use grant given by
// approving agent-a's request do not let agent-b's same operation (same
// connection, method, path, body) pass: agent-b's request is held for a
// human, and agent-a's grant is still there, and works, afterwards. A
// grant naming agent-a that sits where agent-b's would be does not cover
// agent-b either.
func TestGrantCoversOnlyItsIdentity(t *testing.T) {
	t.Run("window", func(t *testing.T) {
		h := newInvHarness(t)
		va := invVerdict("agent-a", "v1", time.Now())
		a := h.pending(va)
		if err := h.svc.Decide(h.ctx, Click{ApprovalID: va.ID, Outcome: slackapp.Approve, Window: 15 * time.Minute, UserID: "UANN"}); err != nil {
			t.Fatalf("approving agent-a for 15m: %v", err)
		}
		if g, ok := h.grant(windowKey(a.Scope)); !ok || g.Identity != "agent-a" || g.Approval != va.ID {
			t.Fatalf("the window grant: %+v %v", g, ok)
		}

		vb := invVerdict("agent-b", "v1", time.Now())
		h.verdict(h.svc, vb)
		h.heldForApproval(vb)

		// The control: agent-a's next such request passes under its window.
		va2 := invVerdict("agent-a", "v2", time.Now())
		h.verdict(h.svc, va2)
		h.passedUnderGrant(va2, va.ID)
		// And agent-b's, still, does not.
		vb2 := invVerdict("agent-b", "v2", time.Now())
		h.verdict(h.svc, vb2)
		h.heldForApproval(vb2)
	})

	t.Run("once", func(t *testing.T) {
		h := newInvHarness(t)
		// Decided after the held request stopped waiting: the approval
		// leaves a single-use grant for agent-a's retry.
		past := time.Now().Add(-2 * invHold)
		va := invVerdict("agent-a", "v1", past)
		a := h.pending(va)
		if err := h.svc.Decide(h.ctx, Click{ApprovalID: va.ID, Outcome: slackapp.Approve, UserID: "UANN"}); err != nil {
			t.Fatalf("approving agent-a once: %v", err)
		}
		if g, ok := h.grant(onceKey(a.Digest)); !ok || g.Identity != "agent-a" || g.Approval != va.ID {
			t.Fatalf("the single-use grant: %+v %v", g, ok)
		}

		vb := invVerdict("agent-b", "v1", time.Now())
		h.verdict(h.svc, vb)
		h.heldForApproval(vb)
		if _, ok := h.grant(onceKey(a.Digest)); !ok {
			t.Fatal("agent-b's request used up agent-a's single-use grant")
		}

		// The control: agent-a's retry passes, once.
		va2 := invVerdict("agent-a", "v1", time.Now())
		h.verdict(h.svc, va2)
		h.passedUnderGrant(va2, va.ID)
		va3 := invVerdict("agent-a", "v1", time.Now())
		h.verdict(h.svc, va3)
		h.heldForApproval(va3)
	})

	// Grants are keyed by a digest that includes the identity; the grant's
	// own identity is checked too. A grant naming agent-a under the keys
	// agent-b's request looks up does not cover agent-b.
	t.Run("grant naming another identity", func(t *testing.T) {
		h := newInvHarness(t)
		vb := invVerdict("agent-b", "v1", time.Now())
		b := h.svc.newApproval(vb.Request, &vb)
		g, _ := json.Marshal(Grant{Approval: event.NewID(), Identity: "agent-a", By: "slack:UANN", Expires: time.Now().Add(time.Hour)})
		for _, key := range []string{windowKey(b.Scope), onceKey(b.Digest)} {
			if _, err := h.grants.Put(h.ctx, key, g); err != nil {
				t.Fatal(err)
			}
		}
		h.verdict(h.svc, vb)
		h.heldForApproval(vb)
		if _, ok := h.grant(onceKey(b.Digest)); !ok {
			t.Fatal("agent-b's request consumed a single-use grant naming agent-a")
		}
	})
}

// unchanged checks that a refused interaction left the approval as it
// was: same entry revision and value, no further decision published, no
// further Slack update, and a refusal recorded with why.
func (h *invHarness) unchanged(id string, rev uint64, value Approval, decisions, updates, refusals int, why string) {
	h.t.Helper()
	a, r := h.approval(id)
	if r != rev {
		h.t.Errorf("the approval entry changed: revision %d, was %d (%+v)", r, rev, a)
	}
	if a.State != value.State || a.By != value.By || a.Window != value.Window || !a.DecidedAt.Equal(value.DecidedAt) {
		h.t.Errorf("the decision changed: %s by %s (window %s), was %s by %s (window %s)",
			a.State, a.By, a.Window, value.State, value.By, value.Window)
	}
	if ds := h.decisions(id); len(ds) != decisions {
		h.t.Errorf("%d decisions published, want %d: %+v", len(ds), decisions, ds)
	}
	if us := h.slack.updatesOf(id); len(us) != updates {
		h.t.Errorf("the Slack message was updated %d times, want %d: %+v", len(us), updates, us)
	}
	rs := h.approvalEvents(id, event.ApprovalRefused)
	if len(rs) != refusals {
		h.t.Errorf("%d refusals recorded, want %d: %+v", len(rs), refusals, rs)
	} else if refusals > 0 && !strings.Contains(rs[len(rs)-1].Reason, why) {
		h.t.Errorf("refusal %q, want it to say %q", rs[len(rs)-1].Reason, why)
	}
}

// TestDecidedApprovalRefusesAnotherDecision: once an approval is approved
// or denied, every later click (another approver, the same one again, the
// other outcome, a window) and every operator command is refused: the
// approval's entry is not rewritten, no second decision is published, no
// grant is written, the Slack message is not updated again, and the
// refusal is recorded.
func TestDecidedApprovalRefusesAnotherDecision(t *testing.T) {
	for _, first := range []Click{
		{Outcome: slackapp.Approve, UserID: "UANN"},
		{Outcome: slackapp.Deny, UserID: "UANN", Reason: "not during the freeze"},
	} {
		t.Run("after "+first.Outcome, func(t *testing.T) {
			h := newInvHarness(t)
			v := invVerdict("agent-a", "v1", time.Now())
			p := h.pending(v)
			first.ApprovalID, first.Key = v.ID, "first-click"
			if err := h.svc.Decide(h.ctx, first); err != nil {
				t.Fatalf("the first decision: %v", err)
			}
			decided, rev := h.approval(v.ID)
			wantState := map[string]string{slackapp.Approve: StateApproved, slackapp.Deny: StateDenied}[first.Outcome]
			if decided.State != wantState || decided.By != "slack:UANN" {
				t.Fatalf("after the first decision: %s by %s", decided.State, decided.By)
			}
			if ds := h.decisions(v.ID); len(ds) != 1 || ds[0].Outcome != first.Outcome {
				t.Fatalf("the first decision published: %+v", ds)
			}
			why := "already " + wantState + " by slack:UANN"

			refusals := 0
			for i, c := range []Click{
				{Outcome: slackapp.Approve, UserID: "UBOB"},
				{Outcome: slackapp.Approve, UserID: "UBOB", Window: time.Hour},
				{Outcome: slackapp.Deny, UserID: "UBOB", Reason: "no"},
				{Outcome: slackapp.Approve, UserID: "UANN", Window: 15 * time.Minute},
				{Outcome: slackapp.Deny, UserID: "UANN"},
				{Outcome: slackapp.Approve, UserID: "cli:ops", Window: 24 * time.Hour},
				{Outcome: slackapp.Deny, UserID: "cli:ops"},
			} {
				c.ApprovalID, c.Key = v.ID, fmt.Sprintf("later-click-%d", i)
				err := h.svc.Decide(h.ctx, c)
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), why) {
					t.Errorf("%s by %s (window %s) on an approval already decided: %v, want refused %q", c.Outcome, c.UserID, c.Window, err, why)
				}
				refusals++
				h.unchanged(v.ID, rev, decided, 1, 1, refusals, why)
			}

			// An operator's command, carried out by the approver's
			// command watcher, is refused the same way.
			wctx, stop := context.WithCancel(h.ctx)
			done := make(chan error, 1)
			go func() { done <- h.svc.WatchCommands(wctx) }()
			t.Cleanup(func() { stop(); <-done })
			for _, c := range []Command{
				{ApprovalID: v.ID, Outcome: event.OutcomeApprove, Window: time.Hour, By: "ops"},
				{ApprovalID: v.ID, Outcome: event.OutcomeDeny, By: "ops", Reason: "changed my mind"},
			} {
				data, _ := json.Marshal(c)
				if _, err := h.approvals.Create(h.ctx, CommandKey(v.ID, event.NewID()), data); err != nil {
					t.Fatal(err)
				}
				refusals++
				deadline := time.Now().Add(10 * time.Second)
				for len(h.approvalEvents(v.ID, event.ApprovalRefused)) < refusals {
					if time.Now().After(deadline) {
						t.Fatalf("the command %+v was not refused within 10 s", c)
					}
					time.Sleep(20 * time.Millisecond)
				}
				h.unchanged(v.ID, rev, decided, 1, 1, refusals, why)
			}

			// No grant was written by any of them.
			if first.Outcome == slackapp.Deny {
				for _, key := range []string{windowKey(p.Scope), onceKey(p.Digest)} {
					if g, ok := h.grant(key); ok {
						t.Errorf("a denied approval has a grant at %s: %+v", key, g)
					}
				}
			} else if g, ok := h.grant(windowKey(p.Scope)); ok {
				t.Errorf("an approval decided once has a window grant: %+v", g)
			}
		})
	}
}

// TestConcurrentDecisionsDecideOnce: eight clicks and commands at once on
// the same pending approval, split between two approver replicas on their
// own connections: exactly one decides (Decide returns nil for it, refused
// for every other), exactly one decision is published, the approval holds
// the winner's decision, the grants are the winner's alone, and Slack's
// message is updated once.
func TestConcurrentDecisionsDecideOnce(t *testing.T) {
	h := newInvHarness(t)
	replicas := []*Service{h.svc, h.replica("approver-2")}
	clicks := []Click{
		{Outcome: slackapp.Approve, UserID: "UANN", Window: 15 * time.Minute},
		{Outcome: slackapp.Deny, UserID: "UBOB", Reason: "no"},
		{Outcome: slackapp.Approve, UserID: "UBOB", Window: time.Hour},
		{Outcome: slackapp.Deny, UserID: "UANN", Reason: "not now"},
		{Outcome: slackapp.Approve, UserID: "cli:ops", Window: 24 * time.Hour},
		{Outcome: slackapp.Deny, UserID: "cli:oncall"},
		{Outcome: slackapp.Approve, UserID: "UANN"},
		{Outcome: slackapp.Approve, UserID: "UBOB", Window: 15 * time.Minute},
	}
	const rounds = 10
	winners := map[string]int{}
	for round := range rounds {
		// An identity per round: a window given in one round must not
		// cover the next round's request.
		v := invVerdict(fmt.Sprintf("agent-%d", round), "v1", time.Now())
		p := h.pending(v)

		start := make(chan struct{})
		errs := make([]error, len(clicks))
		var wg sync.WaitGroup
		for i, c := range clicks {
			c.ApprovalID, c.Key = v.ID, fmt.Sprintf("round-%d-click-%d", round, i)
			svc := replicas[i%len(replicas)]
			wg.Go(func() {
				<-start
				errs[i] = svc.Decide(h.ctx, c)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d: clicks %d and %d both decided", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, ErrRefused):
				t.Errorf("round %d: click %d failed instead of being refused: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no click decided: %v", round, errs)
		}
		w := clicks[winner]
		by := w.UserID
		if !strings.HasPrefix(by, "cli:") {
			by = "slack:" + by
		}
		winners[w.Outcome+" by "+by]++

		ds := h.decisions(v.ID)
		if len(ds) != 1 {
			t.Errorf("round %d: %d decisions published, want 1: %+v", round, len(ds), ds)
		} else if ds[0].Outcome != w.Outcome || ds[0].By != by || ds[0].WindowSeconds != int64(w.Window/time.Second) {
			t.Errorf("round %d: decision %+v, the winner was %+v", round, ds[0], w)
		}
		a, _ := h.approval(v.ID)
		wantState := map[string]string{slackapp.Approve: StateApproved, slackapp.Deny: StateDenied}[w.Outcome]
		if a.State != wantState || a.By != by {
			t.Errorf("round %d: approval %s by %s, the winner was %+v", round, a.State, a.By, w)
		}
		g, ok := h.grant(windowKey(p.Scope))
		switch {
		case w.Outcome == slackapp.Approve && w.Window > 0:
			if !ok || g.Approval != v.ID || g.By != by || g.Expires.Sub(a.DecidedAt) != w.Window {
				t.Errorf("round %d: window grant %+v (%v), the winner was %+v", round, g, ok, w)
			}
		case ok:
			t.Errorf("round %d: a window grant %+v, but the winner was %+v", round, g, w)
		}
		if us := h.slack.updatesOf(v.ID); len(us) != 1 || us[0].Outcome != w.Outcome {
			t.Errorf("round %d: Slack updates %+v, want one for the winner %+v", round, us, w)
		}
		if rs := h.approvalEvents(v.ID, event.ApprovalRefused); len(rs) != len(clicks)-1 {
			t.Errorf("round %d: %d refusals recorded, want %d", round, len(rs), len(clicks)-1)
		}
	}
	t.Logf("winners over %d rounds: %v", rounds, winners)
}

// TestDecideRefusesWindowsNotOffered: Slack offers the configured windows
// (15m and 1h here); a click carrying any other window, negative, or
// longer than a day, is refused, and so is an operator's window longer
// than a day or negative: nothing decided, published or granted. The
// offered windows, and an operator's day, are accepted. A window longer
// than a day is refused even when the configuration offers it.
func TestDecideRefusesWindowsNotOffered(t *testing.T) {
	t.Run("not offered", func(t *testing.T) {
		h := newInvHarness(t)
		v := invVerdict("agent-a", "v1", time.Now())
		p := h.pending(v)
		before, rev := h.approval(v.ID)
		refusals := 0
		for i, c := range []Click{
			{UserID: "UANN", Window: 30 * time.Minute},
			{UserID: "UANN", Window: 2 * time.Hour},
			{UserID: "UANN", Window: 24 * time.Hour},
			{UserID: "UANN", Window: 25 * time.Hour},
			{UserID: "UANN", Window: 15*time.Minute + time.Nanosecond},
			{UserID: "UANN", Window: time.Nanosecond},
			{UserID: "UANN", Window: -15 * time.Minute},
			{UserID: "cli:ops", Window: 24*time.Hour + time.Second},
			{UserID: "cli:ops", Window: 7 * 24 * time.Hour},
			{UserID: "cli:ops", Window: -time.Minute},
		} {
			c.ApprovalID, c.Outcome, c.Key = v.ID, slackapp.Approve, fmt.Sprintf("click-%d", i)
			err := h.svc.Decide(h.ctx, c)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no such window") {
				t.Errorf("a window of %s by %s: %v, want refused (no such window)", c.Window, c.UserID, err)
			}
			refusals++
			h.unchanged(v.ID, rev, before, 0, 0, refusals, "no such window")
		}
		if g, ok := h.grant(windowKey(p.Scope)); ok {
			t.Errorf("a refused window left a grant: %+v", g)
		}

		// The approval is still open: an offered window decides it.
		if err := h.svc.Decide(h.ctx, Click{ApprovalID: v.ID, Outcome: slackapp.Approve, Window: time.Hour, UserID: "UANN", Key: "offered"}); err != nil {
			t.Fatalf("an offered window: %v", err)
		}
		a, _ := h.approval(v.ID)
		if g, ok := h.grant(windowKey(p.Scope)); !ok || g.Expires.Sub(a.DecidedAt) != time.Hour {
			t.Errorf("the offered window's grant: %+v %v", g, ok)
		}
		if ds := h.decisions(v.ID); len(ds) != 1 || ds[0].WindowSeconds != 3600 {
			t.Errorf("the offered window's decision: %+v", ds)
		}
	})

	t.Run("an operator's day", func(t *testing.T) {
		h := newInvHarness(t)
		v := invVerdict("agent-a", "v1", time.Now())
		p := h.pending(v)
		if err := h.svc.Decide(h.ctx, Click{ApprovalID: v.ID, Outcome: slackapp.Approve, Window: 24 * time.Hour, UserID: "cli:ops"}); err != nil {
			t.Fatalf("an operator's window of a day: %v", err)
		}
		a, _ := h.approval(v.ID)
		if g, ok := h.grant(windowKey(p.Scope)); !ok || g.Expires.Sub(a.DecidedAt) != 24*time.Hour {
			t.Errorf("the operator's window grant: %+v %v", g, ok)
		}
	})

	// Configuration validation keeps windows within a day; Decide does not
	// rely on it.
	t.Run("offered but longer than a day", func(t *testing.T) {
		h := newInvHarness(t, 15*time.Minute, 48*time.Hour)
		v := invVerdict("agent-a", "v1", time.Now())
		p := h.pending(v)
		before, rev := h.approval(v.ID)
		err := h.svc.Decide(h.ctx, Click{ApprovalID: v.ID, Outcome: slackapp.Approve, Window: 48 * time.Hour, UserID: "UANN"})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no such window") {
			t.Errorf("an offered window of 48h: %v, want refused (no such window)", err)
		}
		h.unchanged(v.ID, rev, before, 0, 0, 1, "no such window")
		if g, ok := h.grant(windowKey(p.Scope)); ok {
			t.Errorf("a refused window left a grant: %+v", g)
		}
	})
}
