// Command masker runs Airlock's masker service against a NATS server: it
// answers the ingress's pieces of bodies with the secrets in them masked
// (pkg/maskstream), in the masker queue group, so that replicas share the
// work. SIGINT or SIGTERM stops it after the pieces in hand. It serves
// /metrics, /healthz and /readyz on admin.masker (default 127.0.0.1:9093).
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/daemon"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/masker"
)

func main() {
	daemon.Main(daemon.Service{
		Name:  "masker",
		Admin: func(c *config.Config) string { return c.Admin.Masker },
		Run: func(ctx context.Context, env daemon.Env) error {
			metrics, err := masker.NewMetrics(env.Registry)
			if err != nil {
				return err
			}
			m, err := masker.New(env.Config, env.Log, metrics)
			if err != nil {
				return err
			}
			srv, err := maskstream.Serve(env.NC, m.Handle, env.Log)
			if err != nil {
				return fmt.Errorf("serving masking requests: %w", err)
			}
			env.Ready(func() error {
				if !srv.IsValid() {
					return errors.New("not subscribed to masking requests")
				}
				return nil
			})
			env.Log.Info("masker ready", "rules", len(m.Rules()))
			<-ctx.Done()
			env.Log.Info("draining")
			return srv.Drain()
		},
	})
}
