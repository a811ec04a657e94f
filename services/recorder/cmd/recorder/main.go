// Command recorder runs Airlock's recorder against a NATS server: every
// exchange, bodies masked, to the configured S3 store (or the JetStream
// object store), and the audit stream as a hash chain. SIGINT or SIGTERM
// stops it; what it had not written waits in JetStream. It serves
// /metrics, /healthz and /readyz on admin.recorder (default
// 127.0.0.1:9095).
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
	"github.com/airlockhq/airlock/services/recorder"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("recorder failed", "err", err)
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
		return errors.New("nats.url is empty: the standalone recorder needs a NATS server (the embedded one runs inside `airlock up`)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	streams := []string{subject.Stream, subject.AuditStream, bus.BodiesStream}
	if !cfg.Recorder.S3.Enabled() {
		streams = append(streams, bus.RecordingsStream)
	}
	nc, js, err := bus.Join(ctx, cfg, "recorder", log, streams...)
	if err != nil {
		return err
	}
	defer nc.Close()
	r, err := recorder.Start(ctx, cfg, js, log)
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
	adm, err := admin.Start(cfg.Admin.Recorder, admin.NewRegistry(), ready, log)
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
