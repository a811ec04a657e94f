package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
	return cmd
}
