package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/services/policy"
	"github.com/airlockhq/airlock/services/policy/fixtures"
	"github.com/airlockhq/airlock/services/policy/rules"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with policy files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Compile policy files and report every error with its position",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := rules.Load(args)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d rules in %d files\n", set.Len(), len(args))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "test DIR",
		Short: "Run policy fixtures: requests and the verdicts they must get",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			results, err := fixtures.RunDir(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			failed := 0
			for _, r := range results {
				if r.Failure != "" {
					failed++
					fmt.Fprintf(w, "FAIL %s: %s: %s\n", r.File, r.Name, r.Failure)
				}
			}
			fmt.Fprintf(w, "%d passed, %d failed\n", len(results)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d fixtures failed", failed)
			}
			return nil
		},
	})
	var natsURL string
	push := &cobra.Command{
		Use:   "push FILE...",
		Short: "Compile policy files and make them the rules of every policy replica",
		Long: "push compiles the files here and, only if they compile, stores them in the\n" +
			"airlock-policies KV bucket; every policy service loads them at once. A\n" +
			"replica that cannot compile a pushed set keeps the rules it has.\n\n" +
			"On a server with per-service users (deploy/nats/nats.conf) it connects as\n" +
			"the cli user: AIRLOCK_NATS_USER=cli and AIRLOCK_NATS_PASSWORD, or\n" +
			"AIRLOCK_NATS_CREDS; AIRLOCK_NATS_CA, _CERT and _KEY for TLS.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, js, err := connectJS(natsURL, cliClient, authFromEnv())
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			rev, err := policy.Push(ctx, js, args, pusher())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %d files as revision %d\n", len(args), rev)
			return nil
		},
	}
	natsFlag(push, &natsURL)
	cmd.AddCommand(push)
	return cmd
}

// pusher names who pushes, for the record.
func pusher() string {
	host, _ := os.Hostname()
	u := os.Getenv("USER")
	if u == "" {
		u = "unknown"
	}
	return u + "@" + host
}

// natsFlag is the --nats flag every command that reaches the bus takes.
func natsFlag(cmd *cobra.Command, url *string) {
	cmd.Flags().StringVar(url, "nats", envOr("AIRLOCK_NATS_URL", "nats://"+config.DefaultNATSListen), "NATS server (env AIRLOCK_NATS_URL)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
