// Command policy runs Airlock's policy service against a NATS server: it
// evaluates every request event and publishes its verdict. SIGHUP reloads
// the policy files; SIGINT or SIGTERM stops it after the requests in
// flight. It serves /metrics, /healthz and /readyz on admin.policy
// (default 127.0.0.1:9092).
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
	"github.com/airlockhq/airlock/services/policy"
	"github.com/airlockhq/airlock/services/policy/rules"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("policy service failed", "err", err)
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
		return errors.New("nats.url is empty: the standalone policy service needs a NATS server (the embedded one runs inside `airlock up`)")
	}
	set, err := policy.FromConfig(cfg)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		log.Warn("no policy rules: every request will be denied")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	nc, js, err := bus.Join(ctx, cfg, "policy", log, subject.Stream, bus.PoliciesStream, bus.BodiesStream)
	if err != nil {
		return err
	}
	defer nc.Close()

	reg := admin.NewRegistry()
	metrics, err := policy.NewMetrics(reg)
	if err != nil {
		return err
	}
	svc := policy.New(js, set, log, metrics)
	adm, err := admin.Start(cfg.Admin.Policy, reg, svc.Ready, log)
	if err != nil {
		return err
	}
	if adm != nil {
		defer adm.Close()
	}
	go reloadOnHangup(ctx, cfg, svc, log)
	go func() {
		if err := svc.WatchPushed(ctx, rules.WithMaxBody(int64(cfg.Ingress.InspectLimit))); err != nil {
			log.Error("pushed policies are not followed", "err", err)
		}
	}()
	return svc.Run(ctx)
}

// reloadOnHangup reloads the policy files on SIGHUP. A set that does not
// load is reported and the current one kept.
func reloadOnHangup(ctx context.Context, cfg *config.Config, svc *policy.Service, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			set, err := policy.FromConfig(cfg)
			if err != nil {
				log.Error("reloading policies: keeping the current rules", "err", err)
				continue
			}
			svc.SetRules(set)
			log.Info("policies reloaded", "rules", set.Len())
		}
	}
}
