// Command ingress runs Airlock's ingress alone, against a NATS server given
// in the configuration, for the separate-process stack. `airlock up` runs
// the same code in one process. It serves /metrics, /healthz and /readyz on
// admin.ingress (default 127.0.0.1:9091).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/ingress"
	"github.com/airlockhq/airlock/services/ingress/identity"
)

func main() {
	cfgPath := flag.String("config", envOr("AIRLOCK_CONFIG", "airlock.yaml"), "configuration file (env AIRLOCK_CONFIG)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "ingress")
	if err := run(*cfgPath, log); err != nil {
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, err := bus.Connect(cfg.NATS.URL, nil, "ingress", log, bus.WithAuth(bus.AuthFrom(cfg)))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if cfg.NATS.Provision {
		err = bus.Provision(pctx, js, bus.Limits{MaxAge: cfg.NATS.MaxAge, AuditMaxAge: cfg.NATS.AuditMaxAge, Replicas: cfg.NATS.Replicas})
	} else {
		err = bus.AwaitStreams(pctx, js, time.Second, subject.Stream, subject.AuditStream, bus.BodiesStream)
	}
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	servers := []*http.Server{ingress.NewHTTPServer(cfg.Ingress.Listen, srv.Handler())}
	if cfg.Admin.Ingress != config.ListenNone {
		servers = append(servers, admin.NewServer(cfg.Admin.Ingress, admin.Handler(reg, srv.Ready)))
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
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutting down: %w", err)
		}
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
