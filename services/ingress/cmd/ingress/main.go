// Command ingress runs Airlock's ingress alone, against a NATS server given
// in the configuration, for the separate-process stack. `airlock up` runs
// the same code in one process. It serves /metrics, /healthz and /readyz on
// admin.ingress (default 127.0.0.1:9091); -healthcheck probes them
// (pkg/daemon.Healthcheck).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/daemon"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/ingress"
	"github.com/airlockhq/airlock/services/ingress/identity"
)

func main() {
	f := daemon.ParseFlags()
	if f.Healthcheck {
		os.Exit(daemon.Healthcheck("ingress", f.Config, func(c *config.Config) string { return c.Admin.Ingress }, os.Stdout, os.Stderr))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "ingress")
	if err := run(f.Config, log); err != nil {
		log.Error("ingress stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfgPath string, log *slog.Logger) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return errors.New("nats.url is empty: the ingress alone needs a NATS server (or use `airlock up`)")
	}
	ctx, stop := daemon.SignalContext()
	defer stop()

	nc, _, err := bus.Join(ctx, cfg, "ingress", log, subject.Stream, subject.AuditStream, bus.BodiesStream)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := admin.NewRegistry()
	metrics, err := ingress.NewMetrics(reg)
	if err != nil {
		return err
	}
	issuers := cfg.Identity.Issuers
	if d := cfg.Identity.DevIssuer; d.Enabled {
		issuers = append(issuers, config.Issuer{URL: "http://" + d.Listen, Audiences: []string{d.Audience},
			GroupsClaim: config.DefaultGroupsClaim, Algorithms: []string{"RS256"}})
	}
	srv, err := ingress.New(cfg, nc, identity.New(issuers, cfg.Identity.ClockSkew, nil), log, metrics)
	if err != nil {
		return err
	}
	defer srv.Close()
	servers := []*http.Server{ingress.NewHTTPServer(cfg.Ingress, srv.Handler())}
	if cfg.Admin.Ingress != config.ListenNone {
		servers = append(servers, admin.NewServer(cfg.Admin.Ingress, admin.Handler(reg, srv.Ready, admin.Profiling(cfg.Admin.Pprof))))
	}
	errc := make(chan error, len(servers))
	for _, hs := range servers {
		go func() { errc <- hs.ListenAndServe() }()
	}
	log.Info("ingress listening", "addr", cfg.Ingress.Listen, "admin", cfg.Admin.Ingress)
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// Graceful: unready and held requests answered, then no new
	// connections while the requests being forwarded finish.
	srv.Drain()
	log.Info("draining", "grace", shutdownGrace)
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
			log.Warn("requests still being forwarded were cut at the end of the grace period", "grace", shutdownGrace)
		} else if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutting down: %w", err)
		}
	}
	return nil
}

// shutdownGrace is how long requests being forwarded may take to finish
// after SIGTERM. The compose file's stop_grace_period is longer.
const shutdownGrace = 25 * time.Second
