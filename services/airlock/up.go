package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/services/airlock/stack"
)

// Defaults of `airlock up`.
const (
	defaultConfig  = "deploy/examples/airlock.yaml"
	defaultDataDir = ".airlock"
)

func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "config", config.PathFromEnv(defaultConfig), "configuration file (env "+config.EnvPath+")")
}

func newUpCmd() *cobra.Command {
	var cfgPath, dataDir string
	var debug bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run every Airlock service in one process on an embedded NATS server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := stack.Start(ctx, cfg, dataDir, log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := printBanner(cmd.OutOrStdout(), st, cfg, dataDir); err != nil {
				return err
			}
			<-ctx.Done()
			log.Info("shutting down")
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "where the embedded bus and the dev issuer keep their state")
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

func printBanner(w io.Writer, st *stack.Stack, cfg *config.Config, dataDir string) error {
	fmt.Fprintf(w, "Airlock is up.\n")
	fmt.Fprintf(w, "  ingress      %s\n", st.IngressURL)
	if st.NATSURL != "" {
		fmt.Fprintf(w, "  nats         %s\n", st.NATSURL)
	}
	if st.AdminURL != "" {
		fmt.Fprintf(w, "  admin        %s (/metrics /healthz /readyz)\n", st.AdminURL)
	}
	fmt.Fprintf(w, "  data dir     %s\n", dataDir)
	fmt.Fprintf(w, "  connections ")
	for _, c := range cfg.Connections {
		fmt.Fprintf(w, " %s (%s)", c.Name, c.Type)
	}
	fmt.Fprintln(w)
	approvals := "airlock approvals ls|approve|deny (no Slack configured)"
	if cfg.Approvals.Slack.Enabled() {
		approvals = "in Slack, channel " + cfg.Approvals.Slack.Channel
	}
	fmt.Fprintf(w, "  approvals    %s\n", approvals)
	recordings := "the data dir (airlock sessions ls, airlock replay, airlock audit verify)"
	if cfg.Recorder.S3.Enabled() {
		recordings = "S3 " + cfg.Recorder.S3.Endpoint + ", bucket " + cfg.Recorder.S3.Bucket
	}
	fmt.Fprintf(w, "  recordings   %s\n", recordings)
	if st.Issuer == nil {
		fmt.Fprintf(w, "\nThe dev issuer is off: present a token from your identity provider.\n")
		return nil
	}
	fmt.Fprintf(w, "  dev issuer   %s\n", st.Issuer.URL())
	tok, err := st.Issuer.Sign(devissuer.Claims{Subject: "copilot", Groups: []string{"agents"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nSend a request through it (a dev token for sub=copilot, groups=agents, valid 1h):\n\n")
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' \\\n    %s/demo/repos/acme/api\n\n", tok, st.IngressURL)
	fmt.Fprintf(w, "Mint another token:  %s token --data-dir %s --sub copilot --groups agents\n", selfPath(), dataDir)
	fmt.Fprintf(w, "Stop with Ctrl-C.\n")
	return nil
}

// selfPath is how the user can run this binary again from here.
func selfPath() string {
	exe, err := os.Executable()
	if err != nil {
		return "airlock"
	}
	wd, err := os.Getwd()
	if err != nil {
		return exe
	}
	rel, err := filepath.Rel(wd, exe)
	if err != nil || strings.HasPrefix(rel, "..") {
		return exe
	}
	return rel
}

func newTokenCmd() *cobra.Command {
	var dataDir, sub, email string
	var groups []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a token signed by the dev issuer of a running `airlock up`",
		RunE: func(cmd *cobra.Command, _ []string) error {
			iss, err := devissuer.Load(dataDir)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no dev issuer in %s: start `airlock up --data-dir %s` first", dataDir, dataDir)
			}
			if err != nil {
				return err
			}
			tok, err := iss.Sign(devissuer.Claims{Subject: sub, Email: email, Groups: groups, TTL: ttl})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "data dir of the running `airlock up`")
	cmd.Flags().StringVar(&sub, "sub", "copilot", "subject (who the agent is)")
	cmd.Flags().StringVar(&email, "email", "", "email claim")
	cmd.Flags().StringSliceVar(&groups, "groups", []string{"agents"}, "groups claim, comma-separated")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	return cmd
}
