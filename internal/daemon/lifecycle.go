package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// runLifecycleScript runs global_defs' startup_script or shutdown_script
// and waits for it, at most timeout, as keepalived 2.2.7's parent process
// does (run_startup_script before its children start, the shutdown script
// once they have ended): a failure or a timeout (its process group is
// killed) is logged, and lvsd goes on starting, or ends. kind is "startup"
// or "shutdown".
func (d *Daemon) runLifecycleScript(ctx context.Context, kind string, s *config.Script, timeout time.Duration) {
	if s == nil || len(s.Argv) == 0 {
		return
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	start := time.Now()
	d.log.Info("running "+kind+" script", "script", s.Argv[0])
	code, err := d.scripts.Run(ctx, s)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		d.log.Error(kind+" script timed out", "script", s.Argv[0], "timeout", timeout, "err", err)
	case err != nil:
		d.log.Error(kind+" script failed", "script", s.Argv[0], "err", err)
	case code != 0:
		d.log.Warn(kind+" script failed", "script", s.Argv[0], "status", code, "took", took)
	default:
		d.log.Info(kind+" script succeeded", "script", s.Argv[0], "took", took)
	}
}
