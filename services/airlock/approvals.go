package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
)

// newApprovalsCmd is the operators' way to decide held requests, with or
// without Slack: ls, approve, deny. A decision is written to the approvals
// bucket as a command; the approver carries it out (it waits there while
// no approver runs) and the command prints the outcome.
func newApprovalsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Short: "List and decide requests held for approval"}
	var natsURL string
	var all bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the approvals waiting for a decision (--all: decided ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kv, done, err := approvalsBucket(cmd.Context(), natsURL)
			if err != nil {
				return err
			}
			defer done()
			state := approver.StatePending
			if all {
				state = ""
			}
			as, err := approver.List(cmd.Context(), kv, state)
			if err != nil {
				return err
			}
			printApprovals(cmd.OutOrStdout(), as)
			return nil
		},
	}
	ls.Flags().BoolVar(&all, "all", false, "decided approvals too")

	var window time.Duration
	var reason, as string
	decide := func(outcome string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if !event.ValidID(args[0]) {
				return fmt.Errorf("%q is not an approval id", args[0])
			}
			if outcome == event.OutcomeDeny && reason == "" {
				return errors.New("--reason is required to deny: the agent is told why")
			}
			kv, done, err := approvalsBucket(cmd.Context(), natsURL)
			if err != nil {
				return err
			}
			defer done()
			c := approver.Command{ApprovalID: args[0], Outcome: outcome, Window: window, By: as, Reason: reason}
			data, _ := json.Marshal(c)
			if _, err := kv.Create(cmd.Context(), approver.CommandKey(c.ApprovalID, event.NewID()), data); err != nil {
				return fmt.Errorf("writing the decision: %w", err)
			}
			return awaitDecided(cmd.Context(), kv, c.ApprovalID, "", cmd.OutOrStdout())
		}
	}
	approve := &cobra.Command{
		Use: "approve ID", Short: "Release a held request (--for: and the same operation for that long)",
		Args: cobra.ExactArgs(1), RunE: decide(event.OutcomeApprove),
	}
	approve.Flags().DurationVar(&window, "for", 0, "grant the identity this operation for this long (at most 24h); default once")
	deny := &cobra.Command{
		Use: "deny ID --reason TEXT", Short: "Refuse a held request",
		Args: cobra.ExactArgs(1), RunE: decide(event.OutcomeDeny),
	}
	deny.Flags().StringVar(&reason, "reason", "", "why, shown to the agent")
	approve.Flags().StringVar(&reason, "reason", "", "a note kept with the decision")
	for _, c := range []*cobra.Command{ls, approve, deny} {
		natsFlag(c, &natsURL)
	}
	for _, c := range []*cobra.Command{approve, deny} {
		c.Flags().StringVar(&as, "as", envOr("USER", "operator"), "who decides, as recorded (cli:<name>)")
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Withdraw the grants an approval gave: the next such request is asked again",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !event.ValidID(args[0]) {
				return fmt.Errorf("%q is not an approval id", args[0])
			}
			kv, done, err := approvalsBucket(cmd.Context(), natsURL)
			if err != nil {
				return err
			}
			defer done()
			data, _ := json.Marshal(approver.Command{ApprovalID: args[0], Outcome: approver.OutcomeRevoke, By: as})
			if _, err := kv.Create(cmd.Context(), approver.CommandKey(args[0], event.NewID()), data); err != nil {
				return fmt.Errorf("writing the revocation: %w", err)
			}
			return awaitDecided(cmd.Context(), kv, args[0], approver.StateRevoked, cmd.OutOrStdout())
		},
	}
	natsFlag(revoke, &natsURL)
	revoke.Flags().StringVar(&as, "as", envOr("USER", "operator"), "who revokes, as recorded (cli:<name>)")
	cmd.AddCommand(ls, approve, deny, revoke)
	return cmd
}

func approvalsBucket(ctx context.Context, natsURL string) (jetstream.KeyValue, func(), error) {
	nc, js, err := connectJS(natsURL, cliClient, authFromEnv())
	if err != nil {
		return nil, nil, err
	}
	kv, err := js.KeyValue(ctx, subject.ApprovalsBucket)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("opening the approvals: %w", err)
	}
	return kv, nc.Close, nil
}

// awaitDecided waits for the approver to carry out the command (the
// approval leaves pending, or reaches state when it is set) and prints the
// outcome; with no approver running the command waits in the bucket.
func awaitDecided(ctx context.Context, kv jetstream.KeyValue, id, state string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		e, err := kv.Get(ctx, "approval."+id)
		if err == nil {
			var a approver.Approval
			if json.Unmarshal(e.Value(), &a) == nil && a.State != approver.StatePending && (state == "" || a.State == state) {
				if a.State == approver.StateRevoked {
					fmt.Fprintf(w, "%s %s\n", id, a.Why)
					return nil
				}
				fmt.Fprintf(w, "%s %s by %s\n", id, a.State, a.By)
				if !strings.HasPrefix(a.By, "cli:") {
					return fmt.Errorf("already decided by %s", a.By)
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(w, "%s: the decision is recorded; no approver has carried it out yet (is it running?)\n", id)
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printApprovals(w io.Writer, as []approver.Approval) {
	if len(as) == 0 {
		fmt.Fprintln(w, "no approvals")
		return
	}
	fmt.Fprintf(w, "%-26s %-8s %-12s %-12s %-20s %s\n", "ID", "STATE", "CONNECTION", "IDENTITY", "EXPIRES", "WHAT")
	for _, a := range as {
		what := a.Method + " " + a.Path
		if a.Operation != nil && a.Operation.Summary != "" {
			what = a.Operation.Summary
		}
		fmt.Fprintf(w, "%-26s %-8s %-12s %-12s %-20s %s\n", a.ID, a.State, a.Connection, a.Identity,
			a.Expires.Local().Format(time.DateTime), what)
	}
}
