// Package stack runs every Airlock service in one process: the embedded
// NATS server (unless a URL is configured), the dev issuer, the built-in
// echo upstream, the policy service and the ingress, and one admin listener
// (/metrics, /healthz, /readyz) for all of them. `airlock up` uses it,
// and so do the end-to-end tests, so that what the tour shows is what the
// tests check.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/airlock/echo"
	"github.com/airlockhq/airlock/services/approver"
	"github.com/airlockhq/airlock/services/ingress"
	"github.com/airlockhq/airlock/services/ingress/identity"
	"github.com/airlockhq/airlock/services/masker"
	"github.com/airlockhq/airlock/services/policy"
	"github.com/airlockhq/airlock/services/policy/rules"
	"github.com/airlockhq/airlock/services/recorder"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// Stack is a running all-in-one Airlock.
type Stack struct {
	// IngressURL is where agents connect (http://127.0.0.1:PORT).
	IngressURL string
	// NATSURL is where the CLI reaches the bus; empty when the embedded
	// server has no listener.
	NATSURL string
	// Issuer is the dev issuer, nil when it is disabled.
	Issuer *devissuer.Issuer
	// AdminURL serves /metrics, /healthz and /readyz for every service
	// (http://127.0.0.1:PORT); empty when admin.listen is none.
	AdminURL string
	// Registry holds every service's metrics.
	Registry *prometheus.Registry
	// InteractionsURL is the approver's Slack interactivity endpoint, when
	// Slack is configured with a signing secret.
	InteractionsURL string

	log        *slog.Logger
	ns         *server.Server
	conns      []*nats.Conn
	servers    []*http.Server
	ingress    *ingress.Server
	policyMu   sync.Mutex
	policy     context.CancelFunc
	policyNC   *nats.Conn
	policySv   *policy.Service
	policyWG   sync.WaitGroup
	policyM    *policy.Metrics
	recorderMu sync.Mutex
	recorder   *recorder.Running
	recorderNC *nats.Conn
	approverMu sync.Mutex
	approverM  *approver.Metrics
	recorderM  *recorder.Metrics
	approver   *approver.Running
	approverNC *nats.Conn
	maskerMu   sync.Mutex
	masker     *masker.Masker
	maskerNC   *nats.Conn
	maskerSv   *maskstream.Server
	cfg        *config.Config
	dataDir    string
}

// Start brings every service up. cfg is modified: builtin:echo upstreams
// are replaced with the echo server's URL. Close stops everything.
func Start(ctx context.Context, cfg *config.Config, dataDir string, log *slog.Logger) (st *Stack, err error) {
	st = &Stack{log: log, cfg: cfg, dataDir: dataDir, Registry: admin.NewRegistry()}
	// The error returns below return a nil *Stack: close what was started
	// through a copy of the pointer.
	started := st
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	ingressMetrics, err := ingress.NewMetrics(st.Registry)
	if err != nil {
		return nil, err
	}
	if st.policyM, err = policy.NewMetrics(st.Registry); err != nil {
		return nil, err
	}
	if st.recorderM, err = recorder.NewMetrics(st.Registry); err != nil {
		return nil, err
	}
	if st.approverM, err = approver.NewMetrics(st.Registry); err != nil {
		return nil, err
	}
	maskerM, err := masker.NewMetrics(st.Registry)
	if err != nil {
		return nil, err
	}
	if st.masker, err = masker.New(cfg, log.With("service", "masker"), maskerM); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}

	if cfg.NATS.URL == "" {
		listen := cfg.NATS.Embedded.Listen
		if listen == "none" {
			listen = ""
		}
		storeDir := cfg.NATS.Embedded.StoreDir
		if storeDir == "" {
			storeDir = filepath.Join(dataDir, "nats")
		}
		st.ns, err = bus.StartEmbedded(bus.Embedded{StoreDir: storeDir, Listen: listen, Logger: log.With("service", "nats")})
		if err != nil {
			return nil, err
		}
		if listen != "" {
			st.NATSURL = st.ns.ClientURL()
		}
	} else {
		st.NATSURL = cfg.NATS.URL
	}
	nc, err := st.connect("ingress")
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bus.Provision(pctx, js, bus.LimitsFrom(cfg)); err != nil {
		return nil, err
	}

	issuers := cfg.Identity.Issuers
	if cfg.Identity.DevIssuer.Enabled {
		ln, err := net.Listen("tcp", cfg.Identity.DevIssuer.Listen)
		if err != nil {
			return nil, fmt.Errorf("starting dev issuer: %w", err)
		}
		url := "http://" + ln.Addr().String()
		st.Issuer, err = devissuer.Open(dataDir, url, cfg.Identity.DevIssuer.Audience)
		if err != nil {
			ln.Close()
			return nil, err
		}
		st.serve(ln, st.Issuer.Handler())
		issuers = append(issuers, config.Issuer{URL: url, Audiences: []string{cfg.Identity.DevIssuer.Audience},
			GroupsClaim: config.DefaultGroupsClaim, Algorithms: []string{"RS256"}})
	}

	for i := range cfg.Connections {
		if cfg.Connections[i].Upstream != config.BuiltinEcho {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting echo upstream: %w", err)
		}
		st.serve(ln, echo.Handler())
		cfg.Connections[i].Upstream = "http://" + ln.Addr().String()
	}

	if err := st.StartPolicy(ctx); err != nil {
		return nil, err
	}
	if err := st.StartMasker(); err != nil {
		return nil, err
	}
	if err := st.StartApprover(ctx); err != nil {
		return nil, err
	}
	if err := st.StartRecorder(ctx); err != nil {
		return nil, err
	}

	verifier := identity.New(issuers, cfg.Identity.ClockSkew, nil)
	st.ingress, err = ingress.New(cfg, nc, verifier, log.With("service", "ingress"), ingressMetrics)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Ingress.Listen)
	if err != nil {
		return nil, fmt.Errorf("starting ingress: %w", err)
	}
	st.IngressURL = "http://" + ln.Addr().String()
	st.serveHTTP(ingress.NewHTTPServer(cfg.Ingress, st.ingress.Handler()), ln)

	if cfg.Admin.Listen != config.ListenNone {
		ln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			return nil, fmt.Errorf("starting admin listener: %w", err)
		}
		st.AdminURL = "http://" + ln.Addr().String()
		st.serveHTTP(admin.NewServer("", admin.Handler(st.Registry, st.Ready, admin.Profiling(cfg.Admin.Pprof))), ln)
	}
	return st, nil
}

// Ready reports whether every service is ready: the ingress subscribed to
// verdicts and the policy service consuming, both connected to the bus.
func (st *Stack) Ready() error {
	var errs []error
	if err := st.ingress.Ready(); err != nil {
		errs = append(errs, fmt.Errorf("ingress: %w", err))
	}
	st.policyMu.Lock()
	svc := st.policySv
	st.policyMu.Unlock()
	if svc == nil {
		errs = append(errs, errors.New("policy: stopped"))
	} else if err := svc.Ready(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	st.approverMu.Lock()
	if st.approver == nil {
		errs = append(errs, errors.New("approver: stopped"))
	}
	st.approverMu.Unlock()
	st.maskerMu.Lock()
	if st.maskerSv == nil {
		errs = append(errs, errors.New("masker: stopped"))
	} else if !st.maskerNC.IsConnected() {
		errs = append(errs, errors.New("masker: not connected to the bus"))
	}
	st.maskerMu.Unlock()
	return errors.Join(errs...)
}

func (st *Stack) connect(name string) (*nats.Conn, error) {
	nc, err := bus.Connect(st.cfg.NATS.URL, st.ns, name, st.log.With("service", name), bus.WithAuth(bus.AuthFrom(st.cfg)))
	if err != nil {
		return nil, err
	}
	st.conns = append(st.conns, nc)
	return nc, nil
}

// serviceConn is a connection of a service's own, with JetStream, closed
// by the service's Stop rather than by Close.
func (st *Stack) serviceConn(name string) (*nats.Conn, jetstream.JetStream, *slog.Logger, error) {
	log := st.log.With("service", name)
	nc, err := bus.Connect(st.cfg.NATS.URL, st.ns, name, log, bus.WithAuth(bus.AuthFrom(st.cfg)))
	if err != nil {
		return nil, nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("opening jetstream: %w", err)
	}
	return nc, js, log, nil
}

// StartPolicy starts the policy service on its own bus connection.
func (st *Stack) StartPolicy(ctx context.Context) error {
	st.policyMu.Lock()
	defer st.policyMu.Unlock()
	if st.policy != nil {
		return errors.New("policy service already running")
	}
	set, err := policy.FromConfig(st.cfg)
	if err != nil {
		return err
	}
	nc, js, log, err := st.serviceConn("policy")
	if err != nil {
		return err
	}
	svc := policy.New(js, set, log, st.policyM)
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.policy, st.policyNC, st.policySv = cancel, nc, svc
	st.policyWG.Add(2)
	go func() {
		defer st.policyWG.Done()
		if err := svc.WatchPushed(pctx, rules.WithMaxBody(int64(st.cfg.Ingress.InspectLimit))); err != nil {
			st.log.Error("pushed policies are not followed", "err", err)
		}
	}()
	go func() {
		defer st.policyWG.Done()
		if err := svc.Run(pctx); err != nil && !errors.Is(err, context.Canceled) {
			st.log.Error("policy service stopped", "err", err)
		}
	}()
	return nil
}

// StopPolicy stops the policy service, as a crash would: requests then
// wait for a verdict that does not come and are refused.
func (st *Stack) StopPolicy() {
	st.policyMu.Lock()
	defer st.policyMu.Unlock()
	if st.policy == nil {
		return
	}
	st.policy()
	st.policyWG.Wait()
	st.policyNC.Close()
	st.policy, st.policyNC, st.policySv = nil, nil, nil
}

// StartRecorder starts the recorder on its own bus connection: to the
// configured S3 store, or the JetStream object store bucket.
func (st *Stack) StartRecorder(ctx context.Context) error {
	return st.StartRecorderOn(ctx, nil)
}

// StartRecorderOn is StartRecorder with the store wrapped by wrap (nil:
// as it is), for benchmarks that slow the store down.
func (st *Stack) StartRecorderOn(ctx context.Context, wrap func(store.Store) store.Store) error {
	st.recorderMu.Lock()
	defer st.recorderMu.Unlock()
	if st.recorder != nil {
		return errors.New("recorder already running")
	}
	nc, js, log, err := st.serviceConn("recorder")
	if err != nil {
		return err
	}
	rs, err := recorder.OpenStore(ctx, st.cfg, js)
	if err != nil {
		nc.Close()
		return fmt.Errorf("opening the recordings store: %w", err)
	}
	if wrap != nil {
		rs = wrap(rs)
	}
	r, err := recorder.StartOn(ctx, st.cfg, rs, js, log, st.recorderM)
	if err != nil {
		nc.Close()
		return err
	}
	st.recorder, st.recorderNC = r, nc
	return nil
}

// StopRecorder stops the recorder, as a crash would: what it had not
// written waits in JetStream.
func (st *Stack) StopRecorder() {
	st.recorderMu.Lock()
	defer st.recorderMu.Unlock()
	if st.recorder == nil {
		return
	}
	st.recorder.Stop()
	st.recorderNC.Close()
	st.recorder, st.recorderNC = nil, nil
}

// Recordings is the recorder's store, nil when it is stopped.
func (st *Stack) Recordings() store.Store {
	st.recorderMu.Lock()
	defer st.recorderMu.Unlock()
	if st.recorder == nil {
		return nil
	}
	return st.recorder.Store
}

// StartApprover starts the approver on its own bus connection: with Slack
// when approvals.slack is configured, else for `airlock approvals` alone.
func (st *Stack) StartApprover(ctx context.Context) error {
	st.approverMu.Lock()
	defer st.approverMu.Unlock()
	if st.approver != nil {
		return errors.New("approver already running")
	}
	nc, js, log, err := st.serviceConn("approver")
	if err != nil {
		return err
	}
	r, err := approver.Start(ctx, st.cfg, js, log, st.approverM)
	if err != nil {
		nc.Close()
		return err
	}
	st.approver, st.approverNC = r, nc
	st.InteractionsURL = r.InteractionsURL
	return nil
}

// StopApprover stops the approver, as a crash would: held requests wait,
// and are decided when it is back.
func (st *Stack) StopApprover() {
	st.approverMu.Lock()
	defer st.approverMu.Unlock()
	if st.approver == nil {
		return
	}
	st.approver.Stop()
	st.approverNC.Close()
	st.approver, st.approverNC = nil, nil
}

// StartMasker starts the masker service on its own bus connection.
func (st *Stack) StartMasker() error {
	st.maskerMu.Lock()
	defer st.maskerMu.Unlock()
	if st.maskerSv != nil {
		return errors.New("masker already running")
	}
	log := st.log.With("service", "masker")
	nc, err := bus.Connect(st.cfg.NATS.URL, st.ns, "masker", log, bus.WithAuth(bus.AuthFrom(st.cfg)))
	if err != nil {
		return err
	}
	srv, err := maskstream.Serve(nc, st.masker.Handle, log)
	if err != nil {
		nc.Close()
		return fmt.Errorf("starting the masker: %w", err)
	}
	// Serve's subscription must reach the server before a request is
	// masked: a piece sent first would find no responder.
	if err := nc.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("starting the masker: %w", err)
	}
	st.maskerNC, st.maskerSv = nc, srv
	return nil
}

// StopMasker stops the masker service, as a crash would: bodies that must
// be masked are then refused.
func (st *Stack) StopMasker() {
	st.maskerMu.Lock()
	defer st.maskerMu.Unlock()
	if st.maskerSv == nil {
		return
	}
	st.maskerNC.Close()
	st.maskerNC, st.maskerSv = nil, nil
}

func (st *Stack) serve(ln net.Listener, h http.Handler) {
	st.serveHTTP(&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln)
}

func (st *Stack) serveHTTP(srv *http.Server, ln net.Listener) {
	st.servers = append(st.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			st.log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Close stops every service: the ingress first, so that no request is left
// waiting on a bus that is gone.
func (st *Stack) Close() {
	if st.ingress != nil {
		st.ingress.Drain()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := len(st.servers) - 1; i >= 0; i-- {
		_ = st.servers[i].Shutdown(ctx)
	}
	if st.ingress != nil {
		_ = st.ingress.Close()
	}
	st.StopPolicy()
	st.StopMasker()
	st.StopApprover()
	st.StopRecorder()
	for _, nc := range st.conns {
		nc.Close()
	}
	if st.ns != nil {
		st.ns.Shutdown()
		st.ns.WaitForShutdown()
	}
}
