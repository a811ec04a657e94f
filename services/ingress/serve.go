package ingress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/ingress/identity"
)

// requestState follows one request through the handler and the proxy.
type requestState struct {
	reqID          string
	rest           string // escaped path below the connection prefix
	forwardedAt    time.Time
	upstreamMillis float64
	upstreamErr    string
	// reqFindings are the secrets the masker found in the request body.
	reqFindings []event.Finding
	// maskedBody is the inspected body with those secrets masked, and
	// truncated says the body went on past it.
	maskedBody []byte
	truncated  bool
	// masking masks the response body, when it goes through the masker.
	masking *maskstream.Reader
	// maskErr is why the response could not be masked.
	maskErr error
	// recorded is the masked response body kept for the recorder.
	recorded *capture
}

// findings are the secrets found, both directions.
func (st *requestState) findings() int {
	n := len(st.reqFindings)
	if st.masking != nil {
		n += len(st.masking.Findings())
	}
	return n
}

func (st *requestState) id() string {
	if st == nil {
		return ""
	}
	return st.reqID
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

func restPath(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.rest
	}
	return "/"
}

// ServeHTTP handles one agent request, start to finish.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	st := &requestState{reqID: event.NewID()}
	w.Header().Set(RequestIDHeader, st.reqID)
	log := s.log.With("request_id", st.reqID)

	cn, rest, ok := s.route(r)
	if !ok {
		s.metrics.unrouted.Inc()
		writeRefusal(w, http.StatusNotFound, refusal{Error: errNoConnection,
			Reason: "no connection serves this path: use /<connection>/...", RequestID: st.reqID})
		return
	}
	st.rest = rest
	audit := event.Audit{V: event.Version, ID: st.reqID, Connection: cn.name, Method: r.Method, Path: rest, Groups: []string{}}
	finish := func(status int, decision, rule, reason string) {
		audit.Time = time.Now().UTC()
		audit.Findings = st.findings()
		audit.Status, audit.Decision, audit.Rule, audit.Reason = status, decision, rule, reason
		audit.LatencyMillis = millisSince(start)
		cn.m.count(decision)
		observeSince(cn.m.duration, start)
		s.publishAsync(subject.Audit(cn.name), st.reqID+":audit", audit)
	}

	tok, err := identity.FromRequest(r)
	var who event.Identity
	if err == nil {
		who, err = s.verifier.Verify(r.Context(), tok)
	}
	if err != nil {
		status, code := http.StatusUnauthorized, errUnauthenticated
		if errors.Is(err, identity.ErrIssuerUnavailable) {
			status, code = http.StatusServiceUnavailable, errIssuerUnavailable
		} else {
			// Both challenges: git (curl) sends a password from the URL
			// only after a Basic challenge.
			w.Header().Add("WWW-Authenticate", `Bearer realm="airlock"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="airlock"`)
		}
		log.Info("refused: authentication", "connection", cn.name, "err", err)
		writeRefusal(w, status, refusal{Error: code, Reason: err.Error(), RequestID: st.reqID})
		finish(status, event.DecisionUnauthenticated, "", err.Error())
		return
	}
	audit.Identity, audit.Groups = who.Subject, who.Groups

	// Buffer the body up to the inspect limit; the rest streams on.
	body, inspected, err := s.inspectBody(w, r)
	if err != nil {
		status, code, reason := http.StatusBadRequest, errBadRequest, "reading request body: "+errSummary(err)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The body timeout (inspectBody): the connection cannot be
			// read further, so it is closed after the answer.
			status, code = http.StatusRequestTimeout, errRequestTimeout
			reason = fmt.Sprintf("the request body was not sent within %s", s.cfg.BodyTimeout)
			w.Header().Set("Connection", "close")
		}
		writeRefusal(w, status, refusal{Error: code, Reason: reason, RequestID: st.reqID})
		finish(status, event.DecisionError, "", reason)
		return
	}

	// Listen for a decision before the request is published: a grant can
	// release it as fast as the verdict comes.
	decided := make(chan *event.Decision, 1)
	s.decisions.Store(st.reqID, decided)
	defer s.decisions.Delete(st.reqID)

	verdict, status, ref := s.decide(r, st, cn, rest, who, body, inspected)
	if ref == nil {
		audit.Shadow = verdict.Shadow
		if op := verdict.Operation; op != nil {
			audit.Action, audit.Summary = op.Action, op.Summary
		}
	}
	if ref != nil {
		log.Warn("refused: no verdict", "connection", cn.name, "error", ref.Error, "reason", ref.Reason)
		writeRefusal(w, status, *ref)
		finish(status, event.DecisionError, "", ref.Reason)
		s.publishResponse(st, cn, status, false, 0, 0)
		return
	}
	switch verdict.Effect {
	case event.EffectAllow:
		if verdict.ForwardPath != "" {
			st.rest = verdict.ForwardPath
		}
	case event.EffectApprove:
		d := s.hold(r, cn, decided)
		switch {
		case d == nil:
			retry := int(min(max(cn.hold/2, 5*time.Second), 60*time.Second) / time.Second)
			reason := "this request needs a human's approval: " + verdict.Reason
			writePending(w, pending{Status: "pending_approval", ApprovalID: st.reqID, RetryAfter: retry,
				Reason: reason, Rule: verdict.Rule, RequestID: st.reqID})
			log.Info("held: no decision in time", "connection", cn.name, "rule", verdict.Rule, "hold", cn.hold)
			finish(http.StatusAccepted, event.EffectApprove, verdict.Rule, reason)
			s.publishResponse(st, cn, http.StatusAccepted, false, 0, 0)
			return
		case d.Outcome != event.OutcomeApprove:
			audit.Approver = d.By
			reason := "denied by " + d.By
			if d.Reason != "" {
				reason += ": " + d.Reason
			}
			writeRefusal(w, http.StatusForbidden, refusal{Error: errDenied, Reason: reason, Rule: verdict.Rule, RequestID: st.reqID})
			finish(http.StatusForbidden, event.EffectDeny, verdict.Rule, reason)
			s.publishResponse(st, cn, http.StatusForbidden, false, 0, 0)
			return
		}
		audit.Approver = d.By
		log.Info("released by a decision", "connection", cn.name, "by", d.By)
		if verdict.ForwardPath != "" {
			st.rest = verdict.ForwardPath
		}
	default:
		log.Info("refused: policy", "connection", cn.name, "rule", verdict.Rule)
		reason := verdict.Reason + secretsFound(st.reqFindings)
		writeRefusal(w, http.StatusForbidden, refusal{Error: errDenied, Reason: reason, Rule: verdict.Rule, RequestID: st.reqID})
		finish(http.StatusForbidden, event.EffectDeny, verdict.Rule, reason)
		s.publishResponse(st, cn, http.StatusForbidden, false, 0, 0)
		return
	}
	if cn.cred.value == "" {
		reason := fmt.Sprintf("connection %s has no service credential (%s is empty)", cn.name, cn.cred.source)
		writeRefusal(w, http.StatusServiceUnavailable, refusal{Error: errNoCredential, Reason: reason, RequestID: st.reqID})
		finish(http.StatusServiceUnavailable, event.DecisionError, verdict.Rule, reason)
		s.publishResponse(st, cn, http.StatusServiceUnavailable, false, 0, 0)
		return
	}

	// A truncated body is refused even when no secret was found in the
	// part inspected: the rest, which nobody saw, may hold one, and the
	// rule promised the upstream a body with its secrets masked.
	if verdict.MaskSecrets && (len(st.reqFindings) > 0 || st.truncated) {
		// The rule allows the request with its secrets masked: what is
		// forwarded is the masked copy, which must be the whole body.
		if st.truncated {
			reason := fmt.Sprintf("the body is larger than the %d bytes inspected: its secrets cannot all be masked", s.cfg.InspectLimit)
			writeRefusal(w, http.StatusRequestEntityTooLarge, refusal{Error: errBodyTooLarge, Reason: reason, Rule: verdict.Rule, RequestID: st.reqID})
			finish(http.StatusRequestEntityTooLarge, event.DecisionError, verdict.Rule, reason)
			s.publishResponse(st, cn, http.StatusRequestEntityTooLarge, false, 0, 0)
			return
		}
		body = bytes.NewReader(st.maskedBody)
		r.ContentLength = int64(len(st.maskedBody))
		r.Header.Del("Content-Length")
		log.Info("forwarding the body with its secrets masked", "connection", cn.name, "rule", verdict.Rule, "findings", len(st.reqFindings))
	}
	counted := &countingReader{r: body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{counted, r.Body}
	}
	cw := &countingWriter{ResponseWriter: w}
	st.forwardedAt = time.Now()
	if aborted := s.forward(cn, cw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st))); aborted != nil {
		// The body was cut off (the masker failed mid-stream, or the
		// agent went away): record that, then abort the connection so the
		// agent cannot take a partial body for a whole one.
		log.Warn("response cut off", "connection", cn.name, "err", st.maskErrOr("aborted"))
		finish(cw.status(), event.EffectAllow, verdict.Rule, "response cut off")
		s.publishResponse(st, cn, cw.status(), true, counted.n, cw.n)
		panic(aborted)
	}
	finish(cw.status(), verdict.Effect, verdict.Rule, verdict.Reason)
	s.publishResponse(st, cn, cw.status(), true, counted.n, cw.n)
}

// hold waits for the decision on a request held for approval, up to the
// connection's hold timeout; nil when none came (or the agent left, or the
// ingress is draining).
func (s *Server) hold(r *http.Request, cn *connection, decided <-chan *event.Decision) *event.Decision {
	s.metrics.held.Inc()
	defer s.metrics.held.Dec()
	t := time.NewTimer(cn.hold)
	defer t.Stop()
	select {
	case d := <-decided:
		return d
	case <-t.C:
	case <-r.Context().Done():
	case <-s.draining:
	}
	return nil
}

// forward runs the reverse proxy, returning what it panicked with when it
// aborted the response (http.ErrAbortHandler) so that the caller records
// the outcome before passing the panic on.
func (s *Server) forward(cn *connection, w http.ResponseWriter, r *http.Request) (aborted any) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(p)
			}
			aborted = p
		}
	}()
	cn.proxy.ServeHTTP(w, r)
	return nil
}

// maskErrOr is why masking stopped, or def.
func (st *requestState) maskErrOr(def string) string {
	if st.masking != nil {
		if err := st.masking.Err(); err != nil {
			return err.Error()
		}
	}
	return def
}

// route finds the connection by Host, else by the first path segment.
func (s *Server) route(r *http.Request) (*connection, string, bool) {
	escaped := r.URL.EscapedPath()
	if len(s.byHost) > 0 {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if cn, ok := s.byHost[host]; ok {
			return cn, escaped, true
		}
	}
	seg, rest, _ := strings.Cut(strings.TrimPrefix(escaped, "/"), "/")
	name, err := url.PathUnescape(seg)
	if err != nil {
		return nil, "", false
	}
	cn, ok := s.conns[name]
	if !ok {
		return nil, "", false
	}
	return cn, "/" + rest, true
}

// inspectBody reads up to the inspect limit and returns a reader that
// yields the whole body (the inspected bytes, then the rest, unread).
func (s *Server) inspectBody(w http.ResponseWriter, r *http.Request) (_ io.Reader, _ []byte, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return http.NoBody, nil, nil
	}
	if d := s.cfg.BodyTimeout; d > 0 {
		// The server has no overall read timeout, so that bodies of any
		// size stream through; without this, an agent sending its body a
		// byte at a time (slowloris) would hold a handler and up to the
		// inspect limit of memory for as long as it liked. Only the
		// inspected part has the deadline: the rest streams on after the
		// verdict. Where the deadline cannot be set (a server that does
		// not support it), the body is read as before.
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(d)) == nil {
			defer func() {
				// After a failed read the deadline stays: Go's server
				// would otherwise drain the rest of the body, as slowly
				// as the agent sends it, before closing the connection.
				if err == nil {
					_ = rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	limit := int64(s.cfg.InspectLimit)
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength) + 1)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return nil, nil, err
	}
	return io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body), buf.Bytes(), nil
}

// decide publishes the request event and waits for its verdict. A nil
// verdict comes with the refusal to send.
func (s *Server) decide(r *http.Request, st *requestState, cn *connection, rest string, who event.Identity,
	body io.Reader, inspected []byte) (*event.Verdict, int, *refusal) {
	defer observeSince(s.metrics.decisionWait, time.Now())
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DecisionTimeout)
	defer cancel()

	headers := make(map[string][]string, len(r.Header))
	for k, v := range r.Header {
		headers[k] = v
	}
	for _, h := range credentialHeaders {
		delete(headers, h)
	}
	path, query := rest, r.URL.RawQuery
	ev := event.Request{
		V: event.Version, ID: st.reqID, Time: time.Now().UTC(),
		Connection: cn.name, ConnectionType: cn.typ, Identity: who,
		Method: r.Method, Host: r.Host, Path: path, Query: query, Headers: headers,
	}
	if body != http.NoBody {
		limit := int64(s.cfg.InspectLimit)
		b := &event.Body{ContentLength: r.ContentLength}
		if int64(len(inspected)) > limit {
			inspected, b.Truncated = inspected[:limit], true
		}
		b.Size = int64(len(inspected))
		masked, findings, omitted, err := s.scanRequest(ctx, r, cn, st.reqID, inspected, b.Truncated)
		if err != nil {
			status, ref := maskingRefusal(err, st.reqID)
			return nil, status, &ref
		}
		st.reqFindings, ev.Findings = findings, findings
		st.maskedBody, st.truncated = masked, b.Truncated
		// The digest is of what the event carries, the masked copy when
		// secrets were found: policy checks it against the object store.
		sum := sha256.Sum256(masked)
		b.SHA256 = hex.EncodeToString(sum[:])
		b.Masked, b.Omitted = len(findings) > 0 && omitted == 0, omitted
		if b.Size <= int64(s.cfg.InlineLimit) {
			b.Inline = masked
		} else {
			name, err := s.bodies.Put(ctx, st.reqID, masked)
			if err != nil {
				return nil, http.StatusServiceUnavailable, &refusal{Error: errBusUnavailable,
					Reason: "could not store the request body for inspection", RequestID: st.reqID}
			}
			b.Object = name
		}
		ev.Body = b
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, http.StatusInternalServerError, &refusal{Error: errBadRequest, Reason: "encoding request event", RequestID: st.reqID}
	}

	ch := make(chan *event.Verdict, 1)
	s.waiters.Store(st.reqID, ch)
	defer s.waiters.Delete(st.reqID)

	msg := &nats.Msg{Subject: subject.Request(cn.name, st.reqID), Data: data}
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(st.reqID+":req")); err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			return nil, http.StatusServiceUnavailable, &refusal{Error: errDecisionTimeout,
				Reason: "the bus did not accept the request in time", RequestID: st.reqID}
		}
		return nil, http.StatusServiceUnavailable, &refusal{Error: errBusUnavailable,
			Reason: "the bus is unavailable: request refused", RequestID: st.reqID}
	}
	select {
	case v := <-ch:
		return v, 0, nil
	case <-ctx.Done():
		if r.Context().Err() != nil {
			return nil, 499, &refusal{Error: errBadRequest, Reason: "client went away", RequestID: st.reqID}
		}
		return nil, http.StatusServiceUnavailable, &refusal{Error: errDecisionTimeout,
			Reason: fmt.Sprintf("no policy verdict within %s: request refused", s.cfg.DecisionTimeout), RequestID: st.reqID}
	}
}

func (s *Server) publishResponse(st *requestState, cn *connection, status int, forwarded bool, in, out int64) {
	if status < 100 || status > 599 {
		status = http.StatusBadRequest
	}
	ev := event.Response{
		V: event.Version, ID: st.reqID, Time: time.Now().UTC(), Connection: cn.name,
		Status: status, Forwarded: forwarded, BytesIn: in, BytesOut: out,
		UpstreamMillis: st.upstreamMillis, Error: st.upstreamErr,
	}
	if st.masking != nil {
		ev.Masked, ev.Findings = true, st.masking.Findings()
	}
	if c := st.recorded; c != nil && forwarded {
		sum := sha256.Sum256(c.data)
		ev.Body = &event.Body{Size: int64(len(c.data)), ContentLength: out, Truncated: c.truncated,
			SHA256: hex.EncodeToString(sum[:]), Masked: true}
		if len(c.data) > int(s.cfg.InlineLimit) {
			// Stored, then journaled, off the request path: the agent
			// already has its answer.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				name, err := s.bodies.PutResponse(ctx, st.reqID, c.data)
				if err != nil {
					s.log.Warn("response body not kept for the recorder", "request_id", st.reqID, "err", err)
					ev.Body = nil
				} else {
					ev.Body.Object = name
				}
				s.publishAsync(subject.Response(st.reqID), st.reqID+":resp", ev)
			}()
			return
		}
		ev.Body.Inline = c.data
	}
	s.publishAsync(subject.Response(st.reqID), st.reqID+":resp", ev)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countingWriter records the status and counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}

// Flush lets the proxy stream (server-sent events, chunked downloads).
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

var (
	_ http.Handler = (*Server)(nil)
	_ http.Flusher = (*countingWriter)(nil)
)
