// Command approver runs Airlock's approver against a NATS server: it asks a
// human about every request held for approval (in Slack when
// approvals.slack is configured), publishes the decisions, and keeps the
// grants. SIGINT or SIGTERM stops it; pending approvals stay in JetStream
// for the next one. It serves /metrics, /healthz and /readyz on
// admin.approver (default 127.0.0.1:9094).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("approver failed", "err", err)
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
		return errors.New("nats.url is empty: the standalone approver needs a NATS server (the embedded one runs inside `airlock up`)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	nc, js, err := bus.Join(ctx, cfg, "approver", log, subject.Stream, bus.GrantsStream, bus.ApprovalsStream)
	if err != nil {
		return err
	}
	defer nc.Close()
	r, err := approver.Start(ctx, cfg, js, log)
	if err != nil {
		return err
	}
	defer r.Stop()
	ready := func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}
	adm, err := admin.Start(cfg.Admin.Approver, admin.NewRegistry(), ready, log)
	if err != nil {
		return err
	}
	if adm != nil {
		defer adm.Close()
	}
	<-ctx.Done()
	log.Info("stopping")
	return nil
}
