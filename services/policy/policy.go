// Package policy is Airlock's policy service. It consumes every request
// event the ingress publishes, evaluates the CEL rule set (package rules)
// against it, and publishes the verdict the ingress waits for.
//
// It consumes the durable pull consumer subject.PolicyConsumer on stream
// subject.Stream (subjects airlock.req.<conn>.<id>), reads bodies above the
// inline limit from the object store subject.BodiesBucket, and publishes
// one event.Verdict per request on airlock.verdict.<id>, with Nats-Msg-Id
// "<id>:verdict" so that a redelivered request yields one stored verdict.
// A request event is acked only once its verdict is stored.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/policy/classify"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// Tuning of the consumer, in one place.
const (
	// MaxInFlight is how many request events one replica evaluates at
	// once; further deliveries wait in the client.
	MaxInFlight = 256
	// HandleTimeout bounds the work on one request event (reading its body,
	// publishing its verdict); it is below bus.PolicyAckWait so that a
	// stuck event is given up before JetStream redelivers it.
	HandleTimeout = bus.PolicyAckWait / 2
	// RetryDelay is how long JetStream waits before redelivering an event
	// whose verdict could not be published.
	RetryDelay = 250 * time.Millisecond
)

// Reasons of verdicts that no rule decided.
const (
	ReasonBodyUnavailable = "request body unavailable: it is not in the object store"
	ReasonBodyDigest      = "request body does not match its digest"
)

// requestID is the form of a request id: a ULID. It becomes a subject
// token, so nothing else may pass.
var requestID = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// Service evaluates request events and publishes verdicts. Its methods are
// safe for concurrent use.
type Service struct {
	js        jetstream.JetStream
	bodies    *bus.Bodies
	log       *slog.Logger
	rules     atomic.Pointer[rules.Set]
	metrics   *Metrics
	consuming atomic.Bool
}

// New returns a service that evaluates set. A nil set denies every request.
// It records its metrics in m; nil means unregistered ones.
func New(js jetstream.JetStream, set *rules.Set, log *slog.Logger, m *Metrics) *Service {
	if m == nil {
		m, _ = NewMetrics(nil) // registers nothing: cannot fail
	}
	s := &Service{js: js, bodies: bus.NewBodies(js), log: log, metrics: m}
	s.rules.Store(set)
	return s
}

// SetRules replaces the rule set. Requests evaluated after it returns see
// the new set; those in flight finish with the old one.
func (s *Service) SetRules(set *rules.Set) { s.rules.Store(set) }

// Rules returns the current rule set.
func (s *Service) Rules() *rules.Set { return s.rules.Load() }

// Run consumes request events until ctx is done, then stops fetching,
// finishes the events in flight and returns nil. It returns an error only
// when it cannot start consuming.
func (s *Service) Run(ctx context.Context) error {
	cons, err := s.js.Consumer(ctx, subject.Stream, subject.PolicyConsumer)
	if err != nil {
		return fmt.Errorf("looking up consumer %s on stream %s: %w", subject.PolicyConsumer, subject.Stream, err)
	}
	// Events in flight at shutdown still get their verdict.
	work := context.WithoutCancel(ctx)
	slots := make(chan struct{}, MaxInFlight)
	var wg sync.WaitGroup
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() {
				<-slots
				wg.Done()
			}()
			s.handle(work, msg)
		}()
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.log.Warn("consuming request events", "consumer", subject.PolicyConsumer, "err", err)
	}))
	if err != nil {
		return fmt.Errorf("consuming %s: %w", subject.PolicyConsumer, err)
	}
	s.consuming.Store(true)
	go func() {
		<-cc.Closed() // stopped, or the consumer was deleted
		s.consuming.Store(false)
	}()
	s.log.Info("policy service consuming", "stream", subject.Stream, "consumer", subject.PolicyConsumer, "rules", s.Rules().Len())
	<-ctx.Done()
	s.consuming.Store(false)
	cc.Stop()
	// No handler starts once the subscription is closed.
	<-cc.Closed()
	wg.Wait()
	s.log.Info("policy service stopped")
	return nil
}

// handle turns one request event into a verdict.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(ctx, HandleTimeout)
	defer cancel()
	req, err := decode(msg)
	if err != nil {
		// Never valid, however often it is redelivered.
		s.log.Warn("malformed request event: terminating it", "subject", msg.Subject(), "err", err)
		if err := msg.TermWithReason("malformed request event"); err != nil {
			s.log.Warn("terminating malformed request event", "subject", msg.Subject(), "err", err)
		}
		return
	}
	log := s.log.With("request_id", req.ID)

	v, err := s.decide(ctx, req, log)
	if err != nil {
		log.Warn("evaluating request: will retry", "err", err)
		s.retry(msg, log)
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		// A Verdict always encodes; should it not, retrying cannot help.
		log.Error("encoding verdict", "err", err)
		s.retry(msg, log)
		return
	}
	if _, err := s.js.Publish(ctx, subject.Verdict(req.ID), data, jetstream.WithMsgID(req.ID+":verdict")); err != nil {
		log.Warn("publishing verdict: will retry", "err", err)
		s.retry(msg, log)
		return
	}
	s.metrics.verdict(v.Effect, v.Rule)
	if err := msg.Ack(); err != nil {
		// The verdict is stored; a redelivery publishes a duplicate that
		// JetStream drops.
		log.Warn("acking request event", "err", err)
	}
	log.Debug("verdict", "effect", v.Effect, "rule", v.Rule, "eval_us", v.EvalMicros, "shadow", len(v.Shadow))
	for _, m := range v.Shadow {
		// Shadow rules are being tried out: what they would have done is
		// what their authors need to see.
		log.Info("shadow rule matched", "rule", m.Rule, "would", m.Effect, "effect", v.Effect)
	}
}

// decide evaluates a request. It fails only when trying again may succeed.
func (s *Service) decide(ctx context.Context, req *event.Request, log *slog.Logger) (*event.Verdict, error) {
	v := &event.Verdict{V: event.Version, ID: req.ID}
	var body []byte
	if b := req.Body; b != nil && b.Object != "" {
		data, err := s.bodies.Get(ctx, b.Object)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound):
			// Expired or never stored: policy cannot see what would be
			// forwarded, so it is refused.
			log.Warn("request body not in object store", "object", b.Object)
			v.Effect, v.Reason = event.EffectDeny, ReasonBodyUnavailable
		case err != nil:
			return nil, err
		case !digestMatches(data, b.SHA256):
			log.Warn("request body does not match its digest", "object", b.Object)
			v.Effect, v.Reason = event.EffectDeny, ReasonBodyDigest
		}
		body = data
	}
	if v.Effect == "" {
		j := Judge(s.Rules(), req, body)
		s.metrics.eval.Observe(float64(j.Verdict.EvalMicros) / 1e6)
		for _, e := range j.Errors {
			log.Warn("rule failed", "rule", e.Rule, "shadow", e.Shadow, "err", e.Err)
		}
		v = &j.Verdict
	}
	if v.Effect == event.EffectApprove {
		v.Request = req
	}
	v.Time = time.Now().UTC()
	return v, nil
}

// retry asks JetStream to redeliver msg shortly.
func (s *Service) retry(msg jetstream.Msg, log *slog.Logger) {
	if err := msg.NakWithDelay(RetryDelay); err != nil {
		log.Warn("nak of request event", "err", err)
	}
}

// decode reads a request event and checks that it is one: the version,
// an id that can be a subject token, and the subject it came on.
func decode(msg jetstream.Msg) (*event.Request, error) {
	var req event.Request
	if err := json.Unmarshal(msg.Data(), &req); err != nil {
		return nil, fmt.Errorf("decoding request event: %w", err)
	}
	if req.V != event.Version {
		return nil, fmt.Errorf("request event version %d, want %d", req.V, event.Version)
	}
	if !requestID.MatchString(req.ID) {
		return nil, fmt.Errorf("request id %q is not a ULID", req.ID)
	}
	if want := subject.Request(req.Connection, req.ID); msg.Subject() != want {
		return nil, fmt.Errorf("request event for %s arrived on another subject", want)
	}
	return &req, nil
}

// digestMatches reports whether data has the hex SHA-256 digest want. An
// event without a digest is not checked.
func digestMatches(data []byte, want string) bool {
	if want == "" {
		return true
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) == want
}

// Judgement is a verdict and the rule errors behind it.
type Judgement struct {
	Verdict event.Verdict
	// Errors are the rules that failed to evaluate (each denies, unless in
	// shadow mode).
	Errors []rules.RuleError
}

// Judge classifies a request and evaluates the rules: the whole decision,
// without the bus. The service and `airlock policy test` both use it, so
// that a fixture passes exactly when the service would decide the same.
// body is the inspected body when it came from the object store.
func Judge(set *rules.Set, req *event.Request, body []byte) Judgement {
	start := time.Now()
	v := event.Verdict{V: event.Version, ID: req.ID}
	c, err := classify.Request(req, body)
	if err != nil {
		v.Effect, v.Rule, v.Reason = event.EffectDeny, classify.RuleMalformed, err.Error()
		if r, ok := classify.IsRefusal(err); ok {
			v.Rule = r.Rule
		}
		v.EvalMicros = time.Since(start).Microseconds()
		return Judgement{Verdict: v}
	}
	res := set.Evaluate(c.Input)
	v.EvalMicros = time.Since(start).Microseconds()
	v.Effect, v.Rule, v.Reason, v.Shadow = res.Effect, res.Rule, res.Reason, res.Shadow
	v.MaskSecrets = res.MaskSecrets
	v.ForwardPath, v.Operation = c.ForwardPath, &c.Operation
	return Judgement{Verdict: v, Errors: res.Errors}
}
