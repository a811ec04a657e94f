// Command masker runs Airlock's masker service against a NATS server: it
// answers the ingress's pieces of bodies with the secrets in them masked
// (pkg/maskstream), in the masker queue group, so that replicas share the
// work. SIGINT or SIGTERM stops it after the pieces in hand. It serves
// /metrics, /healthz and /readyz on admin.masker (default 127.0.0.1:9093).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/masker"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("masker service failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	path := flag.String("config", config.PathFromEnv("airlock.yaml"), "configuration file (env "+config.EnvPath+")")
	flag.Parse()

	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return errors.New("nats.url is empty: the standalone masker needs a NATS server (the embedded one runs inside `airlock up`)")
	}
	reg := admin.NewRegistry()
	metrics, err := masker.NewMetrics(reg)
	if err != nil {
		return err
	}
	m, err := masker.New(cfg, log, metrics)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	nc, err := bus.Connect(cfg.NATS.URL, nil, "masker", log, bus.WithAuth(bus.AuthFrom(cfg)))
	if err != nil {
		return err
	}
	defer nc.Close()
	srv, err := maskstream.Serve(nc, m.Handle, log)
	if err != nil {
		return fmt.Errorf("serving masking requests: %w", err)
	}
	ready := func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}
	adm, err := admin.Start(cfg.Admin.Masker, reg, ready, log)
	if err != nil {
		return err
	}
	if adm != nil {
		defer adm.Close()
	}
	log.Info("masker ready", "rules", len(m.Rules()))
	<-ctx.Done()
	log.Info("draining")
	return srv.Drain()
}
