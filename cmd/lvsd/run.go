package main

import (
	"fmt"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/spf13/cobra"
)

func newRunCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "run the director daemon (VRRP, health checks, IPVS) in the foreground",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res := config.Load(g.configFile, config.Options{ConfigID: g.configID})
			for _, d := range res.Diags.Sorted() {
				fmt.Fprintln(cmd.ErrOrStderr(), d.String())
			}
			if !res.OK() {
				return exitError{1}
			}
			return fmt.Errorf("run: the daemon is not implemented yet (issue 5); the configuration is valid")
		},
	}
}
