// Package daemon is what the standalone services' mains do alike: read the
// configuration (-config, or AIRLOCK_CONFIG), log JSON to stderr, join the
// bus as their own NATS user, serve /metrics, /healthz and /readyz on their
// admin listener, and run until SIGINT or SIGTERM. With -healthcheck, the
// same binary is its own container health check (Healthcheck).
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
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
	// Ready sets the readiness check served on /readyz beyond the bus
	// connection. /readyz fails until Run calls it: call it once the
	// service's consumers or subscriptions are up.
	Ready func(func() error)
}

// Flags are the command line of every standalone service binary.
type Flags struct {
	// Config is the configuration file: -config, else $AIRLOCK_CONFIG,
	// else airlock.yaml.
	Config string
	// Healthcheck asks for Healthcheck instead of the service.
	Healthcheck bool
}

// ParseFlags parses the command line of a standalone service binary.
func ParseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Config, "config", config.PathFromEnv("airlock.yaml"), "configuration file (env "+config.EnvPath+")")
	flag.BoolVar(&f.Healthcheck, "healthcheck", false,
		"probe the running service's /readyz on its admin listener, print one line and exit: 0 when ready, 1 otherwise (a container health check)")
	flag.Parse()
	return f
}

// Healthcheck is a service binary's -healthcheck, for images without a
// shell or curl: it loads the configuration at path as the service does,
// probes the service's admin listener (addr picks it from the
// configuration; admin.Probe), and prints one line, to stdout when the
// service is ready and to stderr otherwise. It returns the exit code: 0
// when ready, 1 otherwise.
func Healthcheck(name, path string, addr func(*config.Config) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err == nil {
		err = admin.Probe(context.Background(), addr(cfg))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: not ready: %s\n", name, oneLine.Replace(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "%s: ready\n", name)
	return 0
}

// oneLine folds an error that lists a configuration's problems one a line.
var oneLine = strings.NewReplacer(":\n", ": ", "\n", "; ")

// SignalContext is a context that ends on SIGINT or SIGTERM. SIGHUP, which
// would otherwise end the process, is ignored unless the service asks for
// it (the policy service reloads on it; signal.Notify undoes the Ignore).
func SignalContext() (context.Context, context.CancelFunc) {
	signal.Ignore(syscall.SIGHUP)
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// ReadyUntilDone ends Run for a service whose work runs in the background
// once started: it marks the service ready, waits for ctx to end, then
// calls stop.
func (e Env) ReadyUntilDone(ctx context.Context, stop func()) error {
	e.Ready(func() error { return nil })
	<-ctx.Done()
	e.Log.Info("stopping")
	stop()
	return nil
}

// Main runs s and exits: 1 with the error logged when it fails. With
// -healthcheck it runs Healthcheck on s's admin listener instead.
func Main(s Service) {
	f := ParseFlags()
	if f.Healthcheck {
		os.Exit(Healthcheck(s.Name, f.Config, s.Admin, os.Stdout, os.Stderr))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(s, f.Config, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error(s.Name+" failed", "err", err)
		os.Exit(1)
	}
}

func run(s Service, path string, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return fmt.Errorf("nats.url is empty: the standalone %s needs a NATS server (the embedded one runs inside `airlock up`)", s.Name)
	}
	ctx, stop := SignalContext()
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

	// Not ready until Run says its consumers are up: a service that has
	// joined the bus but not yet subscribed would be sent work it drops.
	extra := func() error { return errors.New("starting") }
	ready := func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return extra()
	}
	reg := admin.NewRegistry()
	adm, err := admin.Start(s.Admin(cfg), reg, ready, log, admin.Profiling(cfg.Admin.Pprof))
	if err != nil {
		return err
	}
	if adm != nil {
		defer adm.Close()
	}
	return s.Run(ctx, Env{Config: cfg, NC: nc, JS: js, Log: log, Registry: reg, Ready: func(f func() error) { extra = f }})
}
