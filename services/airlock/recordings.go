package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/services/recorder"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// recordingsFlags say where the recordings are: the configuration's S3
// store, or the JetStream object store on the bus.
type recordingsFlags struct {
	config, natsURL string
}

func (f *recordingsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", config.PathFromEnv("deploy/examples/airlock.yaml"), "configuration file: where recordings are (env "+config.EnvPath+")")
	natsFlag(cmd, &f.natsURL)
}

// open opens the recordings store read-only.
func (f *recordingsFlags) open(ctx context.Context) (store.Store, func(), error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := connectJS(f.natsURL, cliClient, authFromEnv())
	if err != nil {
		return nil, nil, err
	}
	st, err := recorder.OpenStore(ctx, cfg, js)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("opening the recordings: %w", err)
	}
	return st, nc.Close, nil
}

// newVerifyCmd is `airlock audit verify`.
func newVerifyCmd() *cobra.Command {
	var f recordingsFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit chain in the recordings store; name the first broken link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, done, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			n, err := recorder.Verify(cmd.Context(), st)
			if err != nil {
				var b *recorder.Broken
				if errors.As(err, &b) {
					fmt.Fprintf(cmd.OutOrStdout(), "BROKEN after %d intact events: %v\n", n, b)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d audit events, chain intact\n", n)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

// newSessionsCmd is `airlock sessions ls|show` and newReplayCmd `airlock
// replay`.
func newSessionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sessions", Short: "List and show recorded sessions"}
	var f recordingsFlags
	var filter recorder.Filter
	var since time.Duration
	ls := &cobra.Command{
		Use: "ls", Short: "List recorded sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, done, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if since > 0 {
				filter.Since = time.Now().Add(-since)
			}
			ss, err := recorder.Sessions(cmd.Context(), st, filter)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-28s %-14s %-12s %-8s %-19s %s\n", "SESSION", "CONNECTION", "IDENTITY", "REQUESTS", "START", "END")
			for _, s := range ss {
				fmt.Fprintf(w, "%-28s %-14s %-12s %-8d %-19s %s\n", s.ID, s.Connection, s.Identity, s.Exchanges,
					s.Start.Local().Format(time.DateTime), s.End.Local().Format(time.DateTime))
			}
			return nil
		},
	}
	f.add(ls)
	ls.Flags().DurationVar(&since, "since", 0, "only sessions active in this last while")
	ls.Flags().StringVar(&filter.Identity, "identity", "", "only this identity")
	ls.Flags().StringVar(&filter.Connection, "connection", "", "only this connection")
	cmd.AddCommand(ls, newReplayCmd("show"))
	return cmd
}

func newReplayCmd(use string) *cobra.Command {
	var f recordingsFlags
	var format string
	cmd := &cobra.Command{
		Use: use + " SESSION", Short: "The exchanges of a session in order, with verdicts and approvals",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, done, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			recs, err := recorder.Replay(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			return printReplay(cmd.OutOrStdout(), recs, format)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table, or json (one record a line)")
	return cmd
}

func printReplay(w io.Writer, recs []*recorder.Record, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range recs {
		what := ""
		if r.Request != nil {
			what = r.Request.Method + " " + r.Request.Path
		}
		verdict := ""
		if v := r.Verdict; v != nil {
			verdict = v.Effect + " by " + v.Rule
			if v.Operation != nil && v.Operation.Summary != "" {
				what = v.Operation.Summary
			}
		}
		status := "-"
		if r.Response != nil {
			status = fmt.Sprint(r.Response.Status)
			if len(r.Response.Findings) > 0 {
				status += fmt.Sprintf(" (%d secrets masked)", len(r.Response.Findings))
			}
		}
		fmt.Fprintf(w, "%s %s  %s\n    verdict: %s; status: %s\n", r.Time.Local().Format("15:04:05.000"), r.ID, what, verdict, status)
		for _, a := range r.Approvals {
			fmt.Fprintf(w, "    approval %s %s %s\n", a.Kind, a.By, a.Reason)
		}
		if d := r.Decision; d != nil {
			fmt.Fprintf(w, "    decision: %s by %s %s\n", d.Outcome, d.By, strings.TrimSpace(d.Reason))
		}
		if !r.Complete {
			fmt.Fprintln(w, "    (no response recorded)")
		}
	}
	return nil
}
