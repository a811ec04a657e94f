package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
)

// auditFilter selects audit events.
type auditFilter struct {
	connection, identity, decision string
}

func (f auditFilter) match(a *event.Audit) bool {
	return (f.identity == "" || a.Identity == f.identity) &&
		(f.decision == "" || a.Decision == f.decision)
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit stream"}
	var natsURL, format string
	var since time.Duration
	var f auditFilter
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Follow the audit stream live (Ctrl-C to stop)",
		Long: "tail subscribes to AIRLOCK_AUDIT with an ordered consumer of its own and\n" +
			"prints each audit event as it is published: JSON lines, or a table.\n" +
			"On a server with per-service users it connects as the cli user\n" +
			"(AIRLOCK_NATS_USER=cli, AIRLOCK_NATS_PASSWORD).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains([]string{"json", "table"}, format) {
				return fmt.Errorf("--format %q: want json or table", format)
			}
			nc, js, err := connectJS(natsURL, cliClient, authFromEnv())
			if err != nil {
				return err
			}
			defer nc.Close()
			return tailAudit(cmd.Context(), js, f, since, format, cmd.OutOrStdout())
		},
	}
	natsFlag(tail, &natsURL)
	tail.Flags().StringVar(&f.connection, "connection", "", "only this connection")
	tail.Flags().StringVar(&f.identity, "identity", "", "only this identity (sub)")
	tail.Flags().StringVar(&f.decision, "decision", "", "only this decision (allow, deny, approve, unauthenticated, error)")
	tail.Flags().DurationVar(&since, "since", 0, "start this far back (default: new events only)")
	tail.Flags().StringVar(&format, "format", "json", "json (one event a line) or table")
	var exportSince time.Duration
	var ef auditFilter
	var exportURL string
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the audit events since a time as JSON lines, then stop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := connectJS(exportURL, cliClient, authFromEnv())
			if err != nil {
				return err
			}
			defer nc.Close()
			return exportAudit(cmd.Context(), js, ef, exportSince, cmd.OutOrStdout())
		},
	}
	natsFlag(export, &exportURL)
	export.Flags().DurationVar(&exportSince, "since", 24*time.Hour, "from this far back")
	export.Flags().StringVar(&ef.connection, "connection", "", "only this connection")
	export.Flags().StringVar(&ef.identity, "identity", "", "only this identity (sub)")
	export.Flags().StringVar(&ef.decision, "decision", "", "only this decision")
	cmd.AddCommand(tail, export, newVerifyCmd())
	return cmd
}

// exportAudit prints the audit events matching f from since ago to the
// end of the stream, as JSON lines.
func exportAudit(ctx context.Context, js jetstream.JetStream, f auditFilter, since time.Duration, w io.Writer) error {
	start := time.Now().Add(-since)
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start}
	if f.connection != "" {
		cfg.FilterSubjects = []string{subject.Audit(f.connection)}
	}
	cons, err := js.OrderedConsumer(ctx, subject.AuditStream, cfg)
	if err != nil {
		return fmt.Errorf("reading %s: %w", subject.AuditStream, err)
	}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("reading %s: %w", subject.AuditStream, err)
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			var a event.Audit
			if json.Unmarshal(m.Data(), &a) == nil && f.match(&a) {
				fmt.Fprintf(w, "%s\n", strings.TrimSpace(string(m.Data())))
			}
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				done = true
			}
		}
		if n == 0 || done {
			return batch.Error()
		}
	}
}

// tailAudit prints the audit events matching f until ctx is done.
func tailAudit(ctx context.Context, js jetstream.JetStream, f auditFilter, since time.Duration, format string, w io.Writer) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if f.connection != "" {
		cfg.FilterSubjects = []string{subject.Audit(f.connection)}
	}
	if since > 0 {
		start := time.Now().Add(-since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(ctx, subject.AuditStream, cfg)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", subject.AuditStream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", subject.AuditStream, err)
	}
	go func() {
		<-ctx.Done()
		msgs.Stop()
	}()
	if format == "table" {
		fmt.Fprintf(w, "%-12s %-26s %-12s %-10s %-15s %-4s %-32s %s\n", "TIME", "ID", "CONNECTION", "IDENTITY", "DECISION", "CODE", "RULE", "WHAT")
	}
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading %s: %w", subject.AuditStream, err)
		}
		var a event.Audit
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			continue // not an audit event: nothing to show
		}
		if !f.match(&a) {
			continue
		}
		if format == "json" {
			fmt.Fprintf(w, "%s\n", strings.TrimSpace(string(m.Data())))
			continue
		}
		what := a.Summary
		if what == "" {
			what = a.Method + " " + a.Path
		}
		if a.Findings > 0 {
			what += fmt.Sprintf(" [secrets found: %d]", a.Findings)
		}
		if a.Approver != "" {
			what += " [decided by " + a.Approver + "]"
		}
		fmt.Fprintf(w, "%-12s %-26s %-12s %-10s %-15s %-4d %-32s %s\n", a.Time.Local().Format("15:04:05.000"), a.ID,
			a.Connection, a.Identity, a.Decision, a.Status, a.Rule, what)
	}
}
