package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/daemon"
	"github.com/spf13/cobra"
)

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		opts                          daemon.Options
		logConsole, logDetail, noFork bool
		logFormat                     string
		debug                         bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "run the director daemon (VRRP, health checks, IPVS) in the foreground",
		Long: `run serves the configuration in the foreground until SIGTERM or SIGINT;
SIGHUP reloads it (an invalid file is logged and the running one kept).
SIGUSR1, SIGUSR2 and SIGJSON (SIGRTMIN+2) write keepalived's data, stats
and JSON dumps into the state directory (keepalived.data, .stats, .json).
keepalived's director flags are accepted: -P, -C, -p, -l, -D, -n.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.ConfigFile, opts.ConfigID = g.configFile, g.configID
			opts.Log = newLogger(cmd.ErrOrStderr(), logFormat, debug || logDetail)
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, append([]os.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT}, daemon.DumpSignals...)...)
			defer signal.Stop(sigs)
			if err := daemon.Run(context.Background(), opts, sigs); err != nil {
				opts.Log.Error("lvsd run", "err", err)
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.VRRPOnly, "vrrp", "P", false, "run VRRP only (no health checks, no IPVS)")
	f.BoolVarP(&opts.CheckOnly, "check", "C", false, "run health checks and IPVS only (no VRRP)")
	f.BoolVarP(&opts.AllConfig, "all-config", "e", false, "every include must match and be readable, or lvsd does not start (keepalived -e)")
	f.StringVarP(&opts.PIDFile, "pid", "p", "", "write the process id to this file")
	f.StringVar(&opts.StateDir, "state-dir", "/run/lvsd", "directory for lvsd's runtime state")
	f.StringVar(&opts.ControlSocket, "control-socket", "", "control socket for status/reload/stop (default STATE-DIR/lvsd.sock; - disables)")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", "127.0.0.1:9650", "Prometheus metrics listener (empty disables)")
	f.BoolVar(&opts.KeepIPVSOnStop, "keep-ipvs-on-stop", false, "leave lvsd's virtual servers in the kernel when stopping (hitless restarts)")
	f.BoolVar(&opts.NoProbeSharing, "no-probe-sharing", false, "send every checker's own probes, as keepalived 2.2.7 does, instead of one probe for identical checkers of one target")
	f.DurationVar(&opts.RepairInterval, "repair-interval", 10*time.Second, "how often the kernel's IPVS table is re-read and repaired")
	f.BoolVarP(&logConsole, "log-console", "l", true, "log to the console (always on; accepted for keepalived compatibility)")
	f.BoolVarP(&logDetail, "log-detail", "D", false, "detailed logging")
	f.BoolVarP(&noFork, "dont-fork", "n", true, "stay in the foreground (always; accepted for keepalived compatibility)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	// keepalived's child-process pid files: one process here, accepted so
	// that existing unit files and scripts keep working.
	var ignoredPid string
	f.StringVarP(&ignoredPid, "vrrp_pid", "r", "", "accepted for keepalived compatibility (lvsd has no VRRP child)")
	f.StringVarP(&ignoredPid, "checkers_pid", "c", "", "accepted for keepalived compatibility (lvsd has no checker child)")
	f.BoolVar(&debug, "debug", false, "debug logging")
	return cmd
}

func newLogger(w io.Writer, format string, debug bool) *slog.Logger {
	lvl := slog.LevelInfo
	if debug {
		lvl = slog.LevelDebug
	}
	o := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
