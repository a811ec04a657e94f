// Command recorder runs Airlock's recorder against a NATS server: every
// exchange, bodies masked, to the configured S3 store (or the JetStream
// object store), and the audit stream as a hash chain. SIGINT or SIGTERM
// stops it; what it had not written waits in JetStream. It serves
// /metrics, /healthz and /readyz on admin.recorder (default
// 127.0.0.1:9095).
package main

import (
	"context"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/daemon"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder"
)

func main() {
	daemon.Main(daemon.Service{
		Name: "recorder",
		Streams: func(c *config.Config) []string {
			streams := []string{subject.Stream, subject.AuditStream, bus.BodiesStream, bus.LeasesStream}
			if !c.Recorder.S3.Enabled() {
				streams = append(streams, bus.RecordingsStream)
			}
			return streams
		},
		Admin: func(c *config.Config) string { return c.Admin.Recorder },
		Run: func(ctx context.Context, env daemon.Env) error {
			m, err := recorder.NewMetrics(env.Registry)
			if err != nil {
				return err
			}
			r, err := recorder.Start(ctx, env.Config, env.JS, env.Log, m)
			if err != nil {
				return err
			}
			return env.ReadyUntilDone(ctx, r.Stop)
		},
	})
}
