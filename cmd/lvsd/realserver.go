package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/lvsd/lvsd/internal/realserver"
	"github.com/spf13/cobra"
)

func newRealServerCommand() *cobra.Command {
	var vips []string
	var dev, stateFile string
	var asJSON bool
	mgr := func() *realserver.Manager {
		return &realserver.Manager{Sys: realserver.Host(), StateFile: stateFile, Dev: dev}
	}
	root := &cobra.Command{
		Use:   "realserver",
		Short: "prepare this host as a DR/TUN real server: VIPs on lo, ARP sysctls",
		Long: `realserver does what every DR real server needs: the VIPs on lo as host
routes (/32, /128) and arp_ignore=1, arp_announce=2 on lo and all, so that
the host accepts the director's packets for a VIP but never answers ARP for
it. "down" undoes exactly what "up" changed (recorded in --state-file).`,
	}
	up := &cobra.Command{
		Use:   "up --vip ADDR [--vip ADDR...]",
		Short: "add the VIPs to lo and set the ARP sysctls (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := realserver.ParseVIPs(vips)
			if err != nil {
				return err
			}
			if len(addrs) == 0 {
				return fmt.Errorf("give at least one --vip")
			}
			did, err := mgr().Up(addrs)
			for _, d := range did {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if err == nil && len(did) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "already set up; nothing changed")
			}
			return err
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "remove the VIPs up added and restore the sysctls it changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			did, err := mgr().Down()
			for _, d := range did {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if err == nil && len(did) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to undo")
			}
			return err
		},
	}
	status := &cobra.Command{
		Use:   "status [--vip ADDR...]",
		Short: "show the ARP sysctls and VIPs; exit 3 when not ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := realserver.ParseVIPs(vips)
			if err != nil {
				return err
			}
			r, err := mgr().Status(addrs)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				_ = enc.Encode(r)
			} else {
				for _, w := range realserver.Wanted {
					mark := "ok"
					if r.Sysctls[w.Name] != w.Value {
						mark = "want " + w.Value
					}
					fmt.Fprintf(out, "%-34s %s  %s\n", w.Name, r.Sysctls[w.Name], mark)
				}
				var names []string
				for v := range r.VIPs {
					names = append(names, v)
				}
				sort.Strings(names)
				for _, v := range names {
					fmt.Fprintf(out, "VIP %-30s %s\n", v, map[bool]string{true: "on " + dev, false: "missing"}[r.VIPs[v]])
				}
				fmt.Fprintln(out, map[bool]string{true: "ready", false: "not ready"}[r.Ready])
			}
			if !r.Ready {
				return exitError{3}
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{up, status} {
		c.Flags().StringSliceVar(&vips, "vip", nil, "virtual IP address (repeat or comma-separate)")
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	root.PersistentFlags().StringVar(&dev, "dev", "lo", "device that carries the VIPs")
	root.PersistentFlags().StringVar(&stateFile, "state-file", "/run/lvsd/realserver.json", "where up records what it changed")
	root.AddCommand(up, down, status)
	return root
}
