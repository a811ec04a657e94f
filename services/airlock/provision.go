package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
)

// adminClient is the client name, and so the inbox prefix, of
// `airlock provision`: the admin user of deploy/nats/nats.conf.
const adminClient = "admin"

// cliClient is the client name of the operators' commands (policy push):
// the cli user of deploy/nats/nats.conf.
const cliClient = "cli"

func newProvisionCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or update the streams, consumers and buckets on the NATS server",
		Long: "provision creates what the services bind to: the AIRLOCK and AIRLOCK_AUDIT\n" +
			"streams, the durable consumers (policy, approver, recorder), the object stores\n" +
			"airlock-bodies and airlock-recordings, and the KV buckets airlock-grants,\n" +
			"airlock-approvals, airlock-policies and airlock-leases, sized by the nats section of\n" +
			"the configuration. It is idempotent: run it at every deployment, as the admin\n" +
			"user of deploy/nats/nats.conf (nats.user: ${AIRLOCK_NATS_USER} with\n" +
			"AIRLOCK_NATS_USER=admin). `airlock up` provisions its embedded server itself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if cfg.NATS.URL == "" {
				return errors.New("nats.url is empty: `airlock up` provisions the embedded server itself")
			}
			nc, js, err := connectJS(cfg.NATS.URL, adminClient, bus.AuthFrom(cfg))
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if err := bus.Provision(ctx, js, bus.LimitsFrom(cfg)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "provisioned %s: streams %s, %s; consumers %s/{%s,%s,%s}; object stores %s, %s; kv %s, %s, %s, %s\n",
				nc.ConnectedUrlRedacted(), subject.Stream, subject.AuditStream,
				subject.Stream, subject.PolicyConsumer, subject.ApproverConsumer, subject.RecorderConsumer,
				subject.BodiesBucket, subject.RecordingsBucket,
				subject.GrantsBucket, subject.ApprovalsBucket, subject.PoliciesBucket, subject.LeasesBucket)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

// authFromEnv is how the operators' commands that take no configuration
// file authenticate: AIRLOCK_NATS_USER and AIRLOCK_NATS_PASSWORD, or
// AIRLOCK_NATS_CREDS; AIRLOCK_NATS_CA, AIRLOCK_NATS_CERT and
// AIRLOCK_NATS_KEY for TLS. The password is never a flag: flags show in
// the process list.
func authFromEnv() bus.Auth {
	return bus.Auth{
		User: os.Getenv("AIRLOCK_NATS_USER"), Password: os.Getenv("AIRLOCK_NATS_PASSWORD"),
		Creds: os.Getenv("AIRLOCK_NATS_CREDS"),
		CA:    os.Getenv("AIRLOCK_NATS_CA"), Cert: os.Getenv("AIRLOCK_NATS_CERT"), Key: os.Getenv("AIRLOCK_NATS_KEY"),
	}
}

// connectJS connects the CLI to NATS as client (the NATS user of the same
// name on a server with per-service users) and opens JetStream. Close the
// connection when done.
func connectJS(url, client string, auth bus.Auth) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := bus.Connect(url, nil, client, nil, bus.WithAuth(auth))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("opening jetstream: %w", err)
	}
	return nc, js, nil
}
