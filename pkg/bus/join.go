package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/config"
)

// LimitsFrom sizes the streams from the configuration.
func LimitsFrom(cfg *config.Config) Limits {
	return Limits{MaxAge: cfg.NATS.MaxAge, AuditMaxAge: cfg.NATS.AuditMaxAge, Replicas: cfg.NATS.Replicas}
}

// ProvisionWait bounds how long a standalone service waits for the bus to
// be provisioned.
const ProvisionWait = 30 * time.Second

// Join connects a standalone service to the configured NATS server as the
// user name, opens JetStream, and then either provisions the bus (when
// nats.provision is set) or waits until the streams it binds to exist. Close
// the connection when done.
func Join(ctx context.Context, cfg *config.Config, name string, log *slog.Logger, streams ...string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(cfg.NATS.URL, nil, name, log, WithAuth(AuthFrom(cfg)))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("opening jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, ProvisionWait)
	defer cancel()
	if cfg.NATS.Provision {
		err = Provision(pctx, js, LimitsFrom(cfg))
	} else {
		err = AwaitStreams(pctx, js, time.Second, streams...)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
