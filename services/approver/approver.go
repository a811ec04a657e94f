// Package approver is Airlock's approver service. For each approve
// verdict it asks a human (in Slack, or through `airlock approvals`), and
// publishes the decision that releases or refuses the held request. It
// keeps the just-in-time grants that let an approved operation pass when
// the agent retries it.
//
// Everything it knows lives in JetStream: the verdicts come from a durable
// consumer, approvals and grants are KV entries changed by compare-and-set.
// So a restarted approver, or another replica, handles a click on a message
// an earlier one posted, and a double click or a Slack retry decides once.
package approver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver/slackapp"
)

// Notifier asks humans: the Slack poster, or nil.
type Notifier interface {
	Post(ctx context.Context, r slackapp.Request) (channel, ts string, err error)
	Update(ctx context.Context, channel, ts string, r slackapp.Request, d slackapp.Decision) error
	Refuse(ctx context.Context, channel, user, text string) error
}

// Resolver turns approver emails into Slack user ids.
type Resolver func(ctx context.Context, emails []string) (map[string]string, error)

// States of an approval.
const (
	StatePending  = "pending"
	StateApproved = "approved"
	StateDenied   = "denied"
	// StateRevoked: approved, then its grants withdrawn.
	StateRevoked = "revoked"
)

// Approval is an approval as the approvals bucket keeps it.
type Approval struct {
	ID         string           `json:"id"`
	State      string           `json:"state"`
	Connection string           `json:"connection"`
	Identity   string           `json:"identity"`
	Email      string           `json:"email,omitempty"`
	Groups     []string         `json:"groups"`
	Operation  *event.Operation `json:"operation,omitempty"`
	Method     string           `json:"method"`
	Path       string           `json:"path"`
	Rule       string           `json:"rule"`
	Reason     string           `json:"reason"`
	// Digest binds an "approve once" to this exact request: identity,
	// connection, method, canonical path, query and body.
	Digest string `json:"digest"`
	// Scope binds an "approve for N minutes" to the identity and what the
	// request does: connection, action and repository.
	Scope string `json:"scope"`
	// Preview is the start of what the request writes, from the masked
	// copy the bus carries: never a secret.
	Preview   string    `json:"preview,omitempty"`
	Approvers []string  `json:"approvers"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Channel   string    `json:"channel,omitempty"`
	TS        string    `json:"ts,omitempty"`
	// The decision, once made.
	By        string        `json:"by,omitempty"`
	Why       string        `json:"why,omitempty"`
	Window    time.Duration `json:"window,omitempty"`
	DecidedAt time.Time     `json:"decided_at,omitempty"`
}

// Grant lets an operation pass without asking again.
type Grant struct {
	Approval string    `json:"approval"`
	Identity string    `json:"identity"`
	By       string    `json:"by"`
	Expires  time.Time `json:"expires"`
}

// Service is the approver.
type Service struct {
	js        jetstream.JetStream
	approvals jetstream.KeyValue
	grants    jetstream.KeyValue
	cfg       *config.Config
	notifier  Notifier
	resolve   Resolver
	log       *slog.Logger
	now       func() time.Time
	metrics   *Metrics
}

// New binds the approver to the provisioned stream and buckets. notifier
// and resolve are nil without Slack.
func New(ctx context.Context, js jetstream.JetStream, cfg *config.Config, notifier Notifier, resolve Resolver, log *slog.Logger) (*Service, error) {
	approvals, err := js.KeyValue(ctx, subject.ApprovalsBucket)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", subject.ApprovalsBucket, err)
	}
	grants, err := js.KeyValue(ctx, subject.GrantsBucket)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", subject.GrantsBucket, err)
	}
	return &Service{js: js, approvals: approvals, grants: grants, cfg: cfg,
		notifier: notifier, resolve: resolve, log: log, now: time.Now}, nil
}

// Run consumes verdicts until ctx ends: approve verdicts become approvals
// (or pass under a grant); the rest are acked and left.
func (s *Service) Run(ctx context.Context) error {
	cons, err := s.js.Consumer(ctx, subject.Stream, subject.ApproverConsumer)
	if err != nil {
		return fmt.Errorf("binding to consumer %s: %w", subject.ApproverConsumer, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if err := s.handleVerdict(ctx, m.Data()); err != nil {
			s.log.Error("handling an approve verdict: will retry", "subject", m.Subject(), "err", err)
			_ = m.NakWithDelay(2 * time.Second)
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return fmt.Errorf("consuming verdicts: %w", err)
	}
	s.log.Info("approver consuming", "stream", subject.Stream, "consumer", subject.ApproverConsumer, "slack", s.notifier != nil)
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return ctx.Err()
}

func (s *Service) handleVerdict(ctx context.Context, data []byte) error {
	var v event.Verdict
	if err := json.Unmarshal(data, &v); err != nil {
		s.log.Error("discarding a malformed verdict", "err", err)
		return nil
	}
	if v.Effect != event.EffectApprove {
		return nil
	}
	log := s.log.With("request_id", v.ID)
	req := v.Request
	if req == nil || req.ID != v.ID {
		// Nothing to bind an approval to: refuse the held request rather
		// than leave it waiting for a decision no one can make.
		log.Error("approve verdict without its request: refusing it")
		return s.publishDecision(ctx, v.ID, event.OutcomeDeny, "airlock", "the approve verdict did not carry its request", 0)
	}
	a := s.newApproval(req, &v)

	// An operation a grant covers passes without asking.
	if by, ok, err := s.granted(ctx, a); err != nil {
		return err
	} else if ok {
		log.Info("held request passes under a grant", "grant", by)
		s.metrics.count("granted")
		return s.publishDecision(ctx, a.ID, event.OutcomeApprove, by, "", 0)
	}

	key := approvalKey(a.ID)
	if e, err := s.approvals.Get(ctx, key); err == nil {
		// Redelivered: ask again only if the message was not posted.
		var prev Approval
		if err := json.Unmarshal(e.Value(), &prev); err != nil {
			return fmt.Errorf("reading approval %s: %w", a.ID, err)
		}
		if prev.State != StatePending || prev.TS != "" || s.notifier == nil {
			return nil
		}
		return s.ask(ctx, &prev, e.Revision())
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("reading approval %s: %w", a.ID, err)
	}
	data, _ = json.Marshal(a)
	rev, err := s.approvals.Create(ctx, key, data)
	if err != nil {
		return fmt.Errorf("storing approval %s: %w", a.ID, err)
	}
	if err := s.publish(ctx, subject.Approval(a.ID), a.ID+":approval:requested", event.Approval{
		V: event.Version, ID: a.ID, Time: s.now().UTC(), Kind: event.ApprovalRequested,
		Connection: a.Connection, Identity: a.Identity, Operation: a.Operation, Rule: a.Rule,
		Approvers: a.Approvers, Expires: a.Expires,
	}); err != nil {
		return err
	}
	log.Info("approval requested", "connection", a.Connection, "rule", a.Rule, "slack", s.notifier != nil)
	s.metrics.count("requested")
	if s.notifier == nil {
		return nil
	}
	return s.ask(ctx, a, rev)
}

// ask posts the approval message and keeps where it is.
func (s *Service) ask(ctx context.Context, a *Approval, rev uint64) error {
	channel, ts, err := s.notifier.Post(ctx, s.slackRequest(a))
	if err != nil {
		return fmt.Errorf("posting approval %s: %w", a.ID, err)
	}
	a.Channel, a.TS = channel, ts
	data, _ := json.Marshal(a)
	if _, err := s.approvals.Update(ctx, approvalKey(a.ID), data, rev); err != nil {
		// Decided meanwhile (through the CLI): the message stays as posted.
		s.log.Warn("approval changed while its message was posted", "request_id", a.ID, "err", err)
	}
	return nil
}

func (s *Service) newApproval(req *event.Request, v *event.Verdict) *Approval {
	hold := config.DefaultHoldTimeout
	approvers := s.cfg.Approvals.Approvers
	for _, c := range s.cfg.Connections {
		if c.Name == req.Connection {
			hold = c.HoldTimeout
			if len(c.Approvers) > 0 {
				approvers = c.Approvers
			}
		}
	}
	path := v.ForwardPath
	if path == "" {
		path = req.Path
	}
	bodyDigest := ""
	if req.Body != nil {
		bodyDigest = req.Body.SHA256
	}
	op := v.Operation
	action, repo := "", ""
	if op != nil {
		action, repo = op.Action, op.Repo
	}
	return &Approval{
		ID: v.ID, State: StatePending, Connection: req.Connection,
		Identity: req.Identity.Subject, Email: req.Identity.Email, Groups: req.Identity.Groups,
		Operation: op, Method: req.Method, Path: path, Rule: v.Rule, Reason: v.Reason,
		Digest:    digest(req.Identity.Subject, req.Connection, req.Method, path, req.Query, bodyDigest),
		Scope:     digest(req.Identity.Subject, req.Connection, action, repo),
		Approvers: approvers, Created: s.now().UTC(), Expires: v.Time.Add(hold).UTC(),
		Preview: capText(preview(req.Body), maxPreview),
	}
}

// maxPreview bounds the preview kept with an approval; Slack shows less.
const maxPreview = 8 << 10

// capText cuts s to at most n bytes, on a character boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// preview shows what a request writes: a file written through the
// contents API decoded, else the body as text. The body is the masked copy
// from the request event; a body kept in the object store is only named.
func preview(b *event.Body) string {
	switch {
	case b == nil:
		return ""
	case b.Inline == nil:
		return fmt.Sprintf("(a body of %d bytes, not shown)", b.Size)
	}
	var doc struct {
		Message string `json:"message"`
		Content string `json:"content"`
	}
	if json.Unmarshal(b.Inline, &doc) == nil && doc.Content != "" {
		if raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(doc.Content, "\n", "")); err == nil && utf8.Valid(raw) {
			return "commit message: " + doc.Message + "\n--- new content ---\n" + string(raw)
		}
	}
	if !utf8.Valid(b.Inline) {
		return fmt.Sprintf("(%d bytes of binary data)", len(b.Inline))
	}
	return string(b.Inline)
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func approvalKey(id string) string  { return "approval." + id }
func onceKey(digest string) string  { return "once." + digest }
func windowKey(scope string) string { return "window." + scope }

// granted says whether a grant covers the approval's request: a window
// for its scope, or a single-use grant for its digest, which it consumes.
func (s *Service) granted(ctx context.Context, a *Approval) (string, bool, error) {
	now := s.now()
	if e, err := s.grants.Get(ctx, windowKey(a.Scope)); err == nil {
		var g Grant
		if json.Unmarshal(e.Value(), &g) == nil && g.Identity == a.Identity && now.Before(g.Expires) {
			return "grant:" + g.Approval + " (" + g.By + ", until " + g.Expires.Format(time.RFC3339) + ")", true, nil
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, fmt.Errorf("reading grants: %w", err)
	}
	e, err := s.grants.Get(ctx, onceKey(a.Digest))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading grants: %w", err)
	}
	var g Grant
	if json.Unmarshal(e.Value(), &g) != nil || g.Identity != a.Identity || !now.Before(g.Expires) {
		return "", false, nil
	}
	// Single use: whoever deletes this revision first has it.
	if err := s.grants.Delete(ctx, onceKey(a.Digest), jetstream.LastRevision(e.Revision())); err != nil {
		return "", false, nil
	}
	return "grant:" + g.Approval + " (" + g.By + ", once)", true, nil
}

// Click is a human's decision to judge: from Slack, or from the CLI (By
// "cli:<name>", which skips the approver list: operators hold the bus's
// cli credentials).
type Click = slackapp.Click

// ErrRefused is a click that was refused; the message says why.
var ErrRefused = errors.New("refused")

// refusal is a refused click: its text is what the clicker is shown.
type refusal struct{ why string }

func (r refusal) Error() string        { return r.why }
func (r refusal) Is(target error) bool { return target == ErrRefused }

// Decide judges a click and, if it stands, decides the approval: the
// decision is published (releasing or refusing the held request), a grant
// written when the agent will need one, and the Slack message updated. A
// refusal is published as an approval event and returned.
func (s *Service) Decide(ctx context.Context, c Click) error {
	by := "slack:" + c.UserID
	cli := strings.HasPrefix(c.UserID, "cli:")
	if cli {
		by = c.UserID
	}
	e, err := s.approvals.Get(ctx, approvalKey(c.ApprovalID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s.refuse(ctx, nil, c, by, "no such approval")
	}
	if err != nil {
		return fmt.Errorf("reading approval: %w", err)
	}
	var a Approval
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return fmt.Errorf("reading approval: %w", err)
	}
	// The same interaction twice (a Slack retry, a replayed request).
	if c.Key != "" {
		if _, err := s.approvals.Create(ctx, "click."+digest(c.Key), []byte(by)); err != nil {
			return s.refuse(ctx, &a, c, by, "this interaction was already received (replayed)")
		}
	}
	if a.State != StatePending {
		return s.refuse(ctx, &a, c, by, fmt.Sprintf("already %s by %s", a.State, a.By))
	}
	if !cli {
		if err := s.mayDecide(ctx, &a, c.UserID); err != nil {
			return s.refuse(ctx, &a, c, by, err.Error())
		}
	}
	if c.Outcome != slackapp.Approve && c.Outcome != slackapp.Deny {
		return s.refuse(ctx, &a, c, by, "unknown outcome "+c.Outcome)
	}
	// Slack offers the configured windows; an operator may give any up to
	// a day.
	if c.Outcome == slackapp.Approve && c.Window != 0 &&
		((!cli && !slices.Contains(s.cfg.Approvals.Windows, c.Window)) || c.Window < 0 || c.Window > 24*time.Hour) {
		return s.refuse(ctx, &a, c, by, "no such window "+c.Window.String())
	}
	now := s.now().UTC()
	a.State, a.By, a.Why, a.DecidedAt = StateApproved, by, c.Reason, now
	if c.Outcome == slackapp.Deny {
		a.State = StateDenied
	} else {
		a.Window = c.Window
	}
	data, _ := json.Marshal(a)
	if _, err := s.approvals.Update(ctx, approvalKey(a.ID), data, e.Revision()); err != nil {
		// Someone decided between the read and now: theirs stands.
		return s.refuse(ctx, &a, c, by, "already decided")
	}
	if a.State == StateApproved {
		if err := s.grant(ctx, &a, now); err != nil {
			return err
		}
	}
	outcome := event.OutcomeApprove
	if a.State == StateDenied {
		outcome = event.OutcomeDeny
	}
	if err := s.publishDecision(ctx, a.ID, outcome, by, c.Reason, a.Window); err != nil {
		return err
	}
	s.log.Info("approval decided", "request_id", a.ID, "outcome", outcome, "by", by, "window", a.Window)
	s.metrics.count(a.State)
	if s.metrics != nil {
		s.metrics.wait.Observe(now.Sub(a.Created).Seconds())
	}
	if s.notifier != nil && a.TS != "" {
		// The decision stands whatever Slack does; the clicker's deadline
		// is not the update's.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.notifier.Update(ctx, a.Channel, a.TS, s.slackRequest(&a), slackapp.Decision{
			Outcome: c.Outcome, Window: a.Window, By: c.UserID, Reason: c.Reason, At: now,
		}); err != nil {
			s.log.Warn("updating the approval message", "request_id", a.ID, "err", err)
		}
	}
	return nil
}

// grant writes what the agent's retry will need: a window for the scope,
// or, when the held request has stopped waiting, a single-use grant for
// the exact request.
func (s *Service) grant(ctx context.Context, a *Approval, now time.Time) error {
	switch {
	case a.Window > 0:
		g, _ := json.Marshal(Grant{Approval: a.ID, Identity: a.Identity, By: a.By, Expires: now.Add(a.Window)})
		if _, err := s.grants.Put(ctx, windowKey(a.Scope), g); err != nil {
			return fmt.Errorf("writing grant: %w", err)
		}
	case !now.Before(a.Expires.Add(-time.Second)):
		g, _ := json.Marshal(Grant{Approval: a.ID, Identity: a.Identity, By: a.By, Expires: now.Add(s.cfg.Approvals.GrantTTL)})
		if _, err := s.grants.Put(ctx, onceKey(a.Digest), g); err != nil {
			return fmt.Errorf("writing grant: %w", err)
		}
	}
	return nil
}

// mayDecide checks the clicker against the approval's approvers, and that
// it is not the requester.
func (s *Service) mayDecide(ctx context.Context, a *Approval, user string) error {
	var emails []string
	allowed := false
	for _, ap := range a.Approvers {
		if strings.Contains(ap, "@") {
			emails = append(emails, ap)
		} else if ap == user {
			allowed = true
		}
	}
	requester := []string{}
	for _, id := range []string{a.Email, a.Identity} {
		if strings.Contains(id, "@") {
			requester = append(requester, id)
		}
	}
	ids := map[string]string{}
	if s.resolve != nil && len(emails)+len(requester) > 0 {
		var err error
		if ids, err = s.resolve(ctx, append(emails, requester...)); err != nil {
			return fmt.Errorf("approvers could not be looked up: try again")
		}
	}
	for _, r := range requester {
		if ids[r] == user {
			return errors.New("the requester cannot approve its own request")
		}
	}
	if a.Identity == user {
		return errors.New("the requester cannot approve its own request")
	}
	for _, e := range emails {
		if ids[e] == user {
			allowed = true
		}
	}
	if !allowed {
		return errors.New("you are not an approver for this request")
	}
	return nil
}

// refuse records a refused interaction and tells the clicker.
func (s *Service) refuse(ctx context.Context, a *Approval, c Click, by, why string) error {
	s.log.Warn("interaction refused", "request_id", c.ApprovalID, "by", by, "why", why)
	s.metrics.count("refused")
	ev := event.Approval{V: event.Version, ID: c.ApprovalID, Time: s.now().UTC(), Kind: event.ApprovalRefused, By: by, Reason: why}
	if a != nil {
		ev.Connection, ev.Identity, ev.Operation, ev.Rule, ev.Expires = a.Connection, a.Identity, a.Operation, a.Rule, a.Expires
	}
	if ev.Expires.IsZero() {
		ev.Expires = ev.Time
	}
	if event.ValidID(c.ApprovalID) {
		if err := s.publish(ctx, subject.Approval(c.ApprovalID), "", ev); err != nil {
			s.log.Error("recording a refused interaction", "err", err)
		}
	}
	return refusal{why}
}

func (s *Service) publishDecision(ctx context.Context, id, outcome, by, reason string, window time.Duration) error {
	return s.publish(ctx, subject.Decision(id), id+":decision", event.Decision{
		V: event.Version, ID: id, Time: s.now().UTC(), Outcome: outcome, By: by, Reason: reason,
		WindowSeconds: int64(window / time.Second),
	})
}

func (s *Service) publish(ctx context.Context, subj, msgID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", subj, err)
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := s.js.Publish(ctx, subj, data, opts...); err != nil {
		return fmt.Errorf("publishing %s: %w", subj, err)
	}
	return nil
}

func (s *Service) slackRequest(a *Approval) slackapp.Request {
	r := slackapp.Request{
		ApprovalID: a.ID, RequestID: a.ID, Identity: a.Identity, Groups: a.Groups, Connection: a.Connection,
		Method: a.Method, Path: a.Path, Rule: a.Rule, Reason: a.Reason, Windows: s.cfg.Approvals.Windows, Expires: a.Expires,
		Preview: a.Preview,
	}
	if op := a.Operation; op != nil {
		r.Action, r.Summary = op.Action, op.Summary
	}
	return r
}

// List reads the approvals in a bucket, those in state when it is not
// empty, oldest first.
func List(ctx context.Context, kv jetstream.KeyValue, state string) ([]Approval, error) {
	lister, err := kv.ListKeysFiltered(ctx, "approval.>")
	if err != nil {
		return nil, fmt.Errorf("listing approvals: %w", err)
	}
	var out []Approval
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue
		}
		var a Approval
		if json.Unmarshal(e.Value(), &a) == nil && (state == "" || a.State == state) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y Approval) int { return x.Created.Compare(y.Created) })
	return out, nil
}

// Command is an operator's decision, written by `airlock approvals
// approve|deny` to the approvals bucket under CommandKey: the approver
// carries it out and deletes it. While no approver runs it waits there.
type Command struct {
	ApprovalID string        `json:"approval_id"`
	Outcome    string        `json:"outcome"`
	Window     time.Duration `json:"window,omitempty"`
	By         string        `json:"by"`
	Reason     string        `json:"reason,omitempty"`
}

// OutcomeRevoke is the command that withdraws the grants an approval gave.
const OutcomeRevoke = "revoke"

// Revoke withdraws the grants an approval gave (its window, or its
// single-use grant), and marks the approval revoked. The approver alone
// reads grants, at every approve verdict: the next request is asked again,
// whichever ingress it reaches.
func (s *Service) Revoke(ctx context.Context, id, by string) error {
	e, err := s.approvals.Get(ctx, approvalKey(id))
	if err != nil {
		return fmt.Errorf("reading approval %s: %w", id, err)
	}
	var a Approval
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return fmt.Errorf("reading approval %s: %w", id, err)
	}
	for _, key := range []string{windowKey(a.Scope), onceKey(a.Digest)} {
		g, err := s.grants.Get(ctx, key)
		if err != nil {
			continue
		}
		var gr Grant
		// Only this approval's grant: a later approval may have renewed
		// the window.
		if json.Unmarshal(g.Value(), &gr) == nil && gr.Approval == id {
			if err := s.grants.Delete(ctx, key, jetstream.LastRevision(g.Revision())); err != nil {
				return fmt.Errorf("revoking grant: %w", err)
			}
		}
	}
	a.State, a.Why = StateRevoked, "revoked by "+by
	data, _ := json.Marshal(a)
	if _, err := s.approvals.Update(ctx, approvalKey(id), data, e.Revision()); err != nil {
		return fmt.Errorf("marking approval %s revoked: %w", id, err)
	}
	s.log.Info("grant revoked", "request_id", id, "by", by)
	s.metrics.count(StateRevoked)
	return nil
}

// CommandKey is where an operator's command for an approval is written;
// nonce keeps two commands apart.
func CommandKey(approvalID, nonce string) string { return "command." + approvalID + "." + nonce }

// WatchCommands carries out operators' commands until ctx ends. A replica
// claims a command by deleting the revision it saw: one carries it out.
func (s *Service) WatchCommands(ctx context.Context) error {
	w, err := s.approvals.Watch(ctx, "command.>")
	if err != nil {
		return fmt.Errorf("watching commands: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("command watch closed")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			if err := s.approvals.Delete(ctx, e.Key(), jetstream.LastRevision(e.Revision())); err != nil {
				continue // another replica has it
			}
			var c Command
			if err := json.Unmarshal(e.Value(), &c); err != nil {
				s.log.Error("discarding a malformed command", "key", e.Key(), "err", err)
				continue
			}
			if c.Outcome == OutcomeRevoke {
				if err := s.Revoke(ctx, c.ApprovalID, "cli:"+c.By); err != nil {
					s.log.Error("revoking", "request_id", c.ApprovalID, "err", err)
				}
				continue
			}
			if err := s.Decide(ctx, Click{ApprovalID: c.ApprovalID, Outcome: c.Outcome, Window: c.Window,
				UserID: "cli:" + c.By, Reason: c.Reason}); err != nil && !errors.Is(err, ErrRefused) {
				s.log.Error("carrying out a command", "request_id", c.ApprovalID, "err", err)
			}
		}
	}
}
