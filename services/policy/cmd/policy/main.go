// Command policy runs Airlock's policy service against a NATS server: it
// evaluates every request event and publishes its verdict. SIGHUP reloads
// the policy files; SIGINT or SIGTERM stops it after the requests in
// flight. It serves /metrics, /healthz and /readyz on admin.policy
// (default 127.0.0.1:9092).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/daemon"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/policy"
	"github.com/airlockhq/airlock/services/policy/rules"
)

func main() {
	daemon.Main(daemon.Service{
		Name: "policy",
		Streams: func(*config.Config) []string {
			return []string{subject.Stream, bus.PoliciesStream, bus.BodiesStream}
		},
		Admin: func(c *config.Config) string { return c.Admin.Policy },
		Run: func(ctx context.Context, env daemon.Env) error {
			set, err := policy.FromConfig(env.Config)
			if err != nil {
				return err
			}
			if set.Len() == 0 {
				env.Log.Warn("no policy rules: every request will be denied")
			}
			metrics, err := policy.NewMetrics(env.Registry)
			if err != nil {
				return err
			}
			svc := policy.New(env.JS, set, env.Log, metrics)
			env.Ready(svc.Ready)
			go reloadOnHangup(ctx, env.Config, svc, env.Log)
			go func() {
				if err := svc.WatchPushed(ctx, rules.WithMaxBody(int64(env.Config.Ingress.InspectLimit))); err != nil {
					env.Log.Error("pushed policies are not followed", "err", err)
				}
			}()
			return svc.Run(ctx)
		},
	})
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
