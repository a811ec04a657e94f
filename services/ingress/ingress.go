// Package ingress is Airlock's thin front door. It routes a request to a
// connection, verifies the agent's token, publishes the request to
// JetStream, waits for the policy verdict, and forwards an allowed request
// with the connection's credential, streaming both bodies. It holds no
// policy logic and no secret patterns: it fails closed when the bus or the
// policy service does not answer.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/ingress/identity"
)

// RequestIDHeader carries the request id back to the agent.
const RequestIDHeader = "X-Airlock-Request-Id"

// Server is the ingress HTTP handler.
type Server struct {
	cfg    config.Ingress
	nc     *nats.Conn
	js     jetstream.JetStream
	bodies *bus.Bodies
	masker *maskstream.Client
	// cfgMasking is the masking section: what is scanned.
	cfgMasking config.Masking
	verifier   *identity.Verifier
	log        *slog.Logger
	metrics    *Metrics

	conns     map[string]*connection
	byHost    map[string]*connection
	waiters   sync.Map // request id → chan *event.Verdict
	decisions sync.Map // request id → chan *event.Decision
	sub       *nats.Subscription
	decSub    *nats.Subscription
	// journal counts the events being published again; closing ends
	// their retries.
	journal   sync.WaitGroup
	closing   chan struct{}
	closeOnce sync.Once
	// draining is closed by Drain: held requests are answered at once and
	// /readyz fails.
	draining  chan struct{}
	drainOnce sync.Once
}

// connection is a configured upstream, ready to forward to.
type connection struct {
	name, typ string
	upstream  *url.URL
	cred      credential
	proxy     *httputil.ReverseProxy
	m         *connMetrics
	// masking sends bodies through the masker.
	masking bool
	// hold is how long a request held for approval waits.
	hold time.Duration
}

// New builds the ingress from the configuration. It subscribes to verdicts
// at once; Close releases the subscription. It records its metrics in m;
// nil means unregistered ones.
func New(cfg *config.Config, nc *nats.Conn, verifier *identity.Verifier, log *slog.Logger, m *Metrics) (*Server, error) {
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	s := &Server{
		cfg:        cfg.Ingress,
		nc:         nc,
		masker:     maskstream.NewClient(nc),
		cfgMasking: cfg.Masking,
		verifier:   verifier,
		log:        log,
		metrics:    m,
		conns:      map[string]*connection{},
		byHost:     map[string]*connection{},
		closing:    make(chan struct{}),
		draining:   make(chan struct{}),
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(s.onPublishError),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout))
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	s.js, s.bodies = js, bus.NewBodies(js)
	if t := cfg.Masking.Timeout; t > 0 {
		s.masker.Timeout = t
	}
	if l := int(cfg.Masking.WholeLimit); l > 0 {
		s.masker.WholeLimit = l
	}
	for _, c := range cfg.Connections {
		up, err := url.Parse(c.Upstream)
		if err != nil {
			return nil, fmt.Errorf("connection %s: parsing upstream: %w", c.Name, err)
		}
		cred, err := resolveCredential(c.Credential)
		if err != nil {
			return nil, fmt.Errorf("connection %s: %w", c.Name, err)
		}
		if cred.value == "" {
			log.Warn("connection has no credential: its requests will be refused until it is set",
				"connection", c.Name, "source", cred.source)
		}
		cn := &connection{name: c.Name, typ: c.Type, upstream: up, cred: cred, m: m.connection(c.Name), masking: c.MaskingOn(), hold: c.HoldTimeout}
		if cn.hold <= 0 {
			cn.hold = config.DefaultHoldTimeout
		}
		cn.proxy = s.newProxy(cn, newTransport(c.UpstreamTimeout))
		s.conns[c.Name] = cn
		for _, h := range c.Hosts {
			s.byHost[strings.ToLower(h)] = cn
		}
	}
	s.sub, err = nc.Subscribe(subject.VerdictPrefix+"*", s.onVerdict)
	if err != nil {
		return nil, fmt.Errorf("subscribing to verdicts: %w", err)
	}
	// Verdicts are small and must never be dropped as a slow consumer.
	_ = s.sub.SetPendingLimits(-1, -1)
	s.decSub, err = nc.Subscribe(subject.DecisionPrefix+"*", s.onDecision)
	if err != nil {
		_ = s.sub.Unsubscribe()
		return nil, fmt.Errorf("subscribing to decisions: %w", err)
	}
	_ = s.decSub.SetPendingLimits(-1, -1)
	return s, nil
}

// Drain starts a graceful shutdown: /readyz fails, so that a load
// balancer sends no more, and every request held for approval is answered
// now with 202 pending_approval, as when its hold times out (the approval
// stays pending; the agent's retry, on another replica, is released by the
// grant a decision leaves). Requests being forwarded go on: stop the HTTP
// server next, with http.Server.Shutdown, to let them finish.
func (s *Server) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
}

// Close stops listening for verdicts and decisions, then waits for the
// events still being journaled: the acks of async publishes, and the
// retries of failed ones, which get one last try.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = errors.Join(s.sub.Unsubscribe(), s.decSub.Unsubscribe())
		select {
		case <-s.js.PublishAsyncComplete():
		case <-time.After(publishAckTimeout):
		}
		close(s.closing)
		s.journal.Wait()
	})
	return err
}

// onDecision hands an approver's decision to the request it releases or
// refuses, when this replica holds it.
func (s *Server) onDecision(m *nats.Msg) {
	id, ok := subject.IDFromDecision(m.Subject)
	if !ok {
		return
	}
	ch, ok := s.decisions.Load(id)
	if !ok {
		return // another replica's request, or one no longer held
	}
	var d event.Decision
	if err := json.Unmarshal(m.Data, &d); err != nil || d.ID != id ||
		(d.Outcome != event.OutcomeApprove && d.Outcome != event.OutcomeDeny) {
		s.log.Error("discarding malformed decision", "request_id", id, "err", err)
		return
	}
	select {
	case ch.(chan *event.Decision) <- &d:
	default: // a duplicate: the first decision stands
	}
}

func (s *Server) onVerdict(m *nats.Msg) {
	id, ok := subject.IDFromVerdict(m.Subject)
	if !ok {
		return
	}
	ch, ok := s.waiters.Load(id)
	if !ok {
		return // another ingress replica's request, or one that timed out
	}
	var v event.Verdict
	if err := json.Unmarshal(m.Data, &v); err != nil || v.ID != id {
		s.log.Error("discarding malformed verdict", "request_id", id, "err", err)
		return
	}
	select {
	case ch.(chan *event.Verdict) <- &v:
	default: // a redelivered duplicate: the first verdict stands
	}
}

// newTransport returns a connection's transport: one per connection, so
// that each has its own timeout and idle pool.
func newTransport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never through an environment proxy: the upstream is configured
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// credentialHeaders are the agent's own credentials: never forwarded, never
// published.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

func (s *Server) newProxy(cn *connection, transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			rest := restPath(pr.In.Context())
			out := pr.Out
			out.URL.Scheme = cn.upstream.Scheme
			out.URL.Host = cn.upstream.Host
			decoded, err := url.PathUnescape(rest)
			if err != nil {
				decoded = rest // routing already refused undecodable paths
			}
			out.URL.Path = strings.TrimSuffix(cn.upstream.Path, "/") + decoded
			out.URL.RawPath = strings.TrimSuffix(cn.upstream.EscapedPath(), "/") + rest
			out.URL.RawQuery = pr.In.URL.RawQuery
			out.Host = cn.upstream.Host
			for _, h := range credentialHeaders {
				out.Header.Del(h)
			}
			for k := range out.Header {
				if strings.HasPrefix(k, "X-Airlock-") {
					out.Header.Del(k)
				}
			}
			out.Header.Set(cn.cred.header, cn.cred.value)
			if cn.masking {
				// Only codings Airlock can decode, so that it can mask.
				if ae := acceptEncoding(out.Header.Get("Accept-Encoding")); ae != "" {
					out.Header.Set("Accept-Encoding", ae)
				} else {
					out.Header.Del("Accept-Encoding")
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			st := stateFrom(r.Context())
			if st != nil && st.maskErr != nil {
				status, ref := maskingRefusal(st.maskErr, st.id())
				st.upstreamErr = "masking: " + st.maskErr.Error()
				s.log.Warn("response withheld: masking failed", "request_id", st.id(), "connection", cn.name, "err", st.maskErr)
				writeRefusal(w, status, ref)
				return
			}
			status, code := http.StatusBadGateway, errUpstream
			var ne net.Error
			if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
				status, code = http.StatusGatewayTimeout, errUpstreamTimeout
			}
			if st != nil {
				st.upstreamErr = err.Error()
			}
			cn.m.upstreamErrors.Inc()
			s.log.Warn("upstream failed", "request_id", st.id(), "connection", cn.name, "err", err)
			writeRefusal(w, status, refusal{Error: code, Reason: "the upstream did not answer: " + errSummary(err), RequestID: st.id()})
		},
		ModifyResponse: func(resp *http.Response) error {
			if st := stateFrom(resp.Request.Context()); st != nil {
				st.upstreamMillis = millisSince(st.forwardedAt)
				observeSince(cn.m.upstream, st.forwardedAt)
			}
			// The upstream must not be able to set Airlock's own headers.
			for k := range resp.Header {
				if strings.HasPrefix(k, "X-Airlock-") {
					resp.Header.Del(k)
				}
			}
			// Nor send the service's credential back to the agent.
			scrubHeader(resp.Header, cn.cred.echoes)
			st := stateFrom(resp.Request.Context())
			if st == nil {
				return errors.New("request state lost")
			}
			if err := s.maskResponse(resp, cn, st); err != nil {
				st.maskErr = err
				return err
			}
			if st.masking == nil && resp.Body != nil && resp.Body != http.NoBody && len(cn.cred.echoes) > 0 &&
				resp.StatusCode >= 200 {
				// Not masked (a binary type, a connection without
				// masking): the credential is taken out all the same. A
				// 101's body is the upgraded connection, which the proxy
				// needs as it is.
				resp.Body = struct {
					io.Reader
					io.Closer
				}{newScrubReader(resp.Body, cn.cred.echoes), resp.Body}
			}
			return nil
		},
	}
}

// errSummary names the kind of failure without echoing upstream text.
func errSummary(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + " failed"
	}
	return "connection failed"
}

func millisSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
