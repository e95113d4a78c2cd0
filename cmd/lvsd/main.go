// Command lvsd is keepalived rewritten in Go as one daemon.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

// exitError carries a process exit code out of a cobra command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	// Invoked as "genhash" (a link), lvsd is keepalived's genhash.
	if filepath.Base(os.Args[0]) == "genhash" {
		os.Exit(runGenhash(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
	}
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "lvsd:", err)
		os.Exit(1)
	}
}

type globalFlags struct {
	configFile string
	configID   string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "lvsd",
		Short:         "keepalived-compatible VRRP and IPVS director daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.configFile, "use-file", "f", "/etc/keepalived/keepalived.conf", "configuration file (keepalived.conf syntax)")
	root.PersistentFlags().StringVarP(&g.configID, "config-id", "i", "", "config id for @id conditional lines (default: short host name)")
	root.AddCommand(newVersionCommand(), newCheckConfigCommand(g), newRunCommand(g), newStatusCommand(), newReloadCommand(), newStopCommand(), newRealServerCommand())
	addToolCommands(root)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print lvsd's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "lvsd %s (keepalived 2.2 configuration compatible)\n", version)
		},
	}
}
