package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lvsd/internal/daemon"
	"github.com/spf13/cobra"
)

const defaultSocket = "/run/lvsd/lvsd.sock"

// controlClient talks HTTP over the daemon's unix socket.
func controlClient(socket string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

func newStatusCommand() *cobra.Command {
	var socket, dump string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "show VRRP instances, virtual servers and real servers of the running lvsd",
		Long: `status shows VRRP instances, virtual servers and real servers of the running lvsd.
With --keepalived data, stats or json it prints what keepalived writes on
SIGUSR1, SIGUSR2 and SIGJSON (lvsd writes the same files into its state
directory on those signals).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dump != "" {
				resp, err := controlClient(socket).Get("http://lvsd/keepalived/" + dump)
				if err != nil {
					return fmt.Errorf("is lvsd running? %w", err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					return fmt.Errorf("status: %w", err)
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status --keepalived: %s", strings.TrimSpace(string(body)))
				}
				_, err = cmd.OutOrStdout().Write(body)
				return err
			}
			resp, err := controlClient(socket).Get("http://lvsd/status")
			if err != nil {
				return fmt.Errorf("is lvsd running? %w", err)
			}
			defer resp.Body.Close()
			var doc daemon.StatusDoc
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			printStatus(cmd.OutOrStdout(), doc)
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", defaultSocket, "control socket")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&dump, "keepalived", "", "print keepalived's dump instead: data, stats or json")
	return cmd
}

func printStatus(out io.Writer, doc daemon.StatusDoc) {
	who := ""
	if doc.RouterID != "" {
		who = " (router_id " + doc.RouterID + ")"
	}
	fmt.Fprintf(out, "lvsd pid %d%s, config %s (hash %s), up since %s, reloads %d ok / %d failed\n",
		doc.PID, who, doc.ConfigFile, doc.ConfigHash, doc.Started.Format(time.RFC3339), doc.ReloadsOK, doc.ReloadsFailed)
	if doc.LastReloadErr != "" {
		fmt.Fprintf(out, "last reload failed: %s\n", doc.LastReloadErr)
	}
	if doc.ConfigSkippedErrors > 0 {
		fmt.Fprintf(out, "config: %d errors logged and run past as keepalived does, their items left out (lvsd check-config lists them)\n", doc.ConfigSkippedErrors)
	}
	for _, a := range doc.SysctlAdvice {
		fmt.Fprintf(out, "sysctl: %s\n", a)
	}
	if len(doc.VRRP) > 0 {
		fmt.Fprintln(out, "\nVRRP instances")
		w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tINTERFACE\tVRID\tSTATE\tPRIORITY\tMASTER\tSINCE\tVIPS")
		for _, in := range doc.VRRP {
			prio := strconv.Itoa(in.Priority)
			if in.Priority != in.BasePriority {
				prio += fmt.Sprintf(" (base %d)", in.BasePriority)
			}
			master := in.MasterAddr
			if in.MasterPriority > 0 {
				master += fmt.Sprintf(" (%d)", in.MasterPriority)
			}
			since := ""
			if !in.LastTransition.IsZero() {
				since = time.Since(in.LastTransition).Round(time.Second).String()
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.Interface, in.VRID, in.State, prio, master, since, strings.Join(in.VIPs, ","))
		}
		w.Flush()
	}
	printSyncDaemon(out, doc)
	if len(doc.VirtualServers) > 0 {
		fmt.Fprintln(out, "\nVirtual servers")
		if doc.IPVSError != "" {
			fmt.Fprintf(out, "(IPVS not readable: %s)\n", doc.IPVSError)
		}
		w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "VIRTUAL SERVER\tSCHED\tMETHOD\tREAL SERVER\tWEIGHT\tKERNEL\tHEALTH\tACTIVE\tINACTIVE\tLAST CHECK\tLAST ERROR")
		for _, vs := range doc.VirtualServers {
			name := fmt.Sprintf("%s\t%s\t%s", vs.Name, vs.Scheduler, vs.Method)
			if len(vs.RealServers) == 0 {
				fmt.Fprintf(w, "%s\t-\t\t\t\t\t\t\t\n", name)
			}
			for _, rs := range vs.RealServers {
				kw := "-"
				if rs.KernelWeight != nil {
					kw = strconv.Itoa(int(*rs.KernelWeight))
				}
				last := ""
				if !rs.LastCheck.IsZero() {
					last = time.Since(rs.LastCheck).Round(100*time.Millisecond).String() + " ago"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", name, rs.Address, rs.Weight, kw, rs.Health, rs.Active, rs.Inactive, last, rs.LastError)
				name = "\t\t"
			}
		}
		w.Flush()
	}
}

// printSyncDaemon shows lvs_sync_daemon as the kernel runs it.
func printSyncDaemon(out io.Writer, doc daemon.StatusDoc) {
	sd := doc.SyncDaemon
	if sd == nil {
		return
	}
	follows := "no vrrp_instance: master and backup"
	if sd.Instance != "" {
		follows = "follows " + sd.Instance
	}
	fmt.Fprintf(out, "\nIPVS sync daemon (lvs_sync_daemon %s, sync id %d, %s; failback hold %ds; checked %s ago)\n",
		sd.Interface, sd.SyncID, follows, sd.FailbackHoldSeconds, time.Since(sd.Checked).Round(time.Second))
	if sd.LastError != "" {
		fmt.Fprintf(out, "error: %s (%d failed attempts)\n", sd.LastError, doc.SyncDaemonErrors)
	}
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "STATE\tINTERFACE\tSYNC ID\tGROUP\tPORT\tMAXLEN\tTTL")
	if len(sd.Running) == 0 {
		fmt.Fprintln(w, "(none running)\t\t\t\t\t\t")
	}
	for _, r := range sd.Running {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%d\t%d\n", r.State, r.Interface, r.SyncID, r.Group, r.Port, r.MaxLen, r.TTL)
	}
	w.Flush()
	keys := make([]string, 0, len(sd.Settings))
	for k := range sd.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "%s = %s\n", k, sd.Settings[k])
	}
	fmt.Fprintf(out, "persistence templates sent to the sync group: %d", sd.TemplatesSent)
	if sd.TemplateSendErrors > 0 {
		fmt.Fprintf(out, " (%d sends failed)", sd.TemplateSendErrors)
	}
	fmt.Fprintln(out)
}

func newReloadCommand() *cobra.Command {
	return newControlCommand("reload", "reload the running lvsd's configuration (reports whether it was accepted)",
		syscall.SIGHUP, func(cmd *cobra.Command, resp *http.Response) error {
			var res struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&res)
			if !res.OK {
				fmt.Fprintln(cmd.ErrOrStderr(), "reload rejected, the running configuration stays:", res.Error)
				return exitError{1}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "reloaded")
			return nil
		})
}

func newStopCommand() *cobra.Command {
	return newControlCommand("stop", "stop the running lvsd (priority 0 adverts, VIPs and its IPVS services removed)",
		syscall.SIGTERM, func(*cobra.Command, *http.Response) error { return nil })
}

// newControlCommand asks the daemon for action over the control socket
// (POST /action) and hands the answer to report, or with --pid sends sig
// to the process instead, as keepalived users do.
func newControlCommand(action, short string, sig syscall.Signal, report func(*cobra.Command, *http.Response) error) *cobra.Command {
	var socket, pidFile string
	cmd := &cobra.Command{
		Use:   action,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pidFile != "" {
				return signalPID(pidFile, sig)
			}
			resp, err := controlClient(socket).Post("http://lvsd/"+action, "", nil)
			if err != nil {
				return fmt.Errorf("is lvsd running? %w", err)
			}
			defer resp.Body.Close()
			return report(cmd, resp)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", defaultSocket, "control socket")
	cmd.Flags().StringVarP(&pidFile, "pid", "p", "", "signal the process in this pid file instead of using the socket")
	return cmd
}

// signalPID sends sig to the process named in a pid file, which must be
// one lvsd could have written (see daemon.ReadPIDFile): a pid file that
// another user owns or can write could name any process.
func signalPID(file string, sig syscall.Signal) error {
	pid, err := daemon.ReadPIDFile(file)
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("pid %d from %s: %w", pid, file, err)
	}
	return nil
}
