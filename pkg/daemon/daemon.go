// Package daemon is what the standalone services' mains do alike: read the
// configuration (-config, or AIRLOCK_CONFIG), log JSON to stderr, join the
// bus as their own NATS user, serve /metrics, /healthz and /readyz on their
// admin listener, and run until SIGINT or SIGTERM.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
)

// Service describes a standalone service.
type Service struct {
	// Name is the service's NATS client name and log name.
	Name string
	// Streams are the streams it binds to (awaited, or provisioned with
	// nats.provision); none means a plain connection.
	Streams func(*config.Config) []string
	// Admin is its admin listener's address in the configuration.
	Admin func(*config.Config) string
	// Run runs the service until ctx ends, after telling ready what
	// readiness means beyond the bus connection (nil: nothing more).
	Run func(ctx context.Context, env Env) error
}

// Env is what Run works with.
type Env struct {
	Config   *config.Config
	NC       *nats.Conn
	JS       jetstream.JetStream
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Ready sets the extra readiness check served on /readyz.
	Ready func(func() error)
}

// Main runs s and exits: 1 with the error logged when it fails.
func Main(s Service) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(s, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error(s.Name+" failed", "err", err)
		os.Exit(1)
	}
}

func run(s Service, log *slog.Logger) error {
	path := flag.String("config", config.PathFromEnv("airlock.yaml"), "configuration file (env "+config.EnvPath+")")
	flag.Parse()
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return fmt.Errorf("nats.url is empty: the standalone %s needs a NATS server (the embedded one runs inside `airlock up`)", s.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var nc *nats.Conn
	var js jetstream.JetStream
	if s.Streams != nil {
		nc, js, err = bus.Join(ctx, cfg, s.Name, log, s.Streams(cfg)...)
	} else {
		nc, err = bus.Connect(cfg.NATS.URL, nil, s.Name, log, bus.WithAuth(bus.AuthFrom(cfg)))
	}
	if err != nil {
		return err
	}
	defer nc.Close()

	extra := func() error { return nil }
	ready := func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return extra()
	}
	reg := admin.NewRegistry()
	adm, err := admin.Start(s.Admin(cfg), reg, ready, log)
	if err != nil {
		return err
	}
	if adm != nil {
		defer adm.Close()
	}
	return s.Run(ctx, Env{Config: cfg, NC: nc, JS: js, Log: log, Registry: reg, Ready: func(f func() error) { extra = f }})
}
