// Command airlock is Airlock's CLI and all-in-one server: `airlock up` runs
// every service in one process on an embedded NATS server; `airlock token`
// mints a dev token; `airlock policy check` compiles policy files; `airlock
// config check` validates a configuration; `airlock provision` creates the
// streams and buckets on a NATS server.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "airlock:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "airlock",
		Short:         "Airlock: the gateway between AI agents and production",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newAuditCmd(), newUpCmd(), newTokenCmd(), newPolicyCmd(), newConfigCmd(), newProvisionCmd(), newApprovalsCmd(), newSessionsCmd(), newReplayCmd("replay"))
	return root
}
