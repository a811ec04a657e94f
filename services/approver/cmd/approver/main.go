// Command approver runs Airlock's approver against a NATS server: it asks a
// human about every request held for approval (in Slack when
// approvals.slack is configured), publishes the decisions, and keeps the
// grants. SIGINT or SIGTERM stops it; pending approvals stay in JetStream
// for the next one. It serves /metrics, /healthz and /readyz on
// admin.approver (default 127.0.0.1:9094).
package main

import (
	"context"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/daemon"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
)

func main() {
	daemon.Main(daemon.Service{
		Name: "approver",
		Streams: func(*config.Config) []string {
			return []string{subject.Stream, bus.GrantsStream, bus.ApprovalsStream}
		},
		Admin: func(c *config.Config) string { return c.Admin.Approver },
		Run: func(ctx context.Context, env daemon.Env) error {
			m, err := approver.NewMetrics(env.Registry)
			if err != nil {
				return err
			}
			r, err := approver.Start(ctx, env.Config, env.JS, env.Log, m)
			if err != nil {
				return err
			}
			return env.ReadyUntilDone(ctx, r.Stop)
		},
	})
}
