package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
	return cmd
}
