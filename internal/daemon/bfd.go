package daemon

import (
	"context"
	"fmt"
	"sync"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/config"
)

// The bfd_instance sessions (keepalived 2.2.7's bfd process): one runner
// for the configuration's sessions, publishing their states (bfd.Publish)
// for BFD_CHECK and track_bfd, and telling the VRRP router of each change.
//
// The runner is kept beside the Daemon (bfdRuns) so that daemon.go needs
// only the three calls: startBFD after the router starts and after each
// reload, stopBFD at stop.

type bfdRun struct {
	key    string
	names  []string
	r      *bfd.Runner
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

var bfdRuns sync.Map // *Daemon -> *bfdRun

// bfdInstances is cfg's sessions as the runner takes them.
func bfdInstances(cfg *config.Config) []bfd.Instance {
	var out []bfd.Instance
	for _, in := range cfg.ActiveBFDInstances() {
		out = append(out, bfd.Instance{
			SessionConfig: bfd.SessionConfig{Name: in.Name, MinRx: in.MinRx, MinTx: in.MinTx, IdleTx: in.IdleTx,
				Multiplier: in.Multiplier, Passive: in.Passive},
			Neighbor: in.Neighbor, Source: in.Source, TTL: in.TTL, MaxHops: in.MaxHops,
		})
	}
	return out
}

// startBFD runs d.cfg's sessions: at start, and at a reload, which, as
// keepalived's bfd process, keeps the state of each session whose name
// stays (new timers go through a poll sequence), starts new ones Down and
// stops the ones gone (bfd.Runner.Update).
func (d *Daemon) startBFD(ctx context.Context) {
	insts := bfdInstances(d.cfg)
	key := fmt.Sprint(insts)
	var names []string
	for _, in := range insts {
		names = append(names, in.Name)
	}
	if v, ok := bfdRuns.Load(d); ok {
		run := v.(*bfdRun)
		switch {
		case run.key == key:
			return
		case len(insts) == 0:
			d.stopBFD()
			return
		}
		run.key, run.names = key, names
		run.r.Update(run.ctx, insts)
		return
	}
	if len(insts) == 0 {
		return
	}
	run := &bfdRun{key: key, names: names, done: make(chan struct{})}
	rctx, cancel := context.WithCancel(ctx)
	run.ctx, run.cancel = rctx, cancel
	r := bfd.NewRunner(insts, d.log.With("bfd", true))
	r.Publish = true
	run.r = r
	r.Watch(func(name string, s bfd.State) {
		// On a goroutine of its own: a router being replaced must not
		// hold up the sessions; the router reads the published state
		// when it runs the change, so the order of two does not matter.
		if rt := d.routerRef.Load(); rt != nil {
			go rt.BFDChanged(rctx, name)
		}
	})
	bfdRuns.Store(d, run)
	go func() {
		defer close(run.done)
		if err := r.Run(rctx); err != nil {
			d.log.Error("BFD: unable to open the listening socket (UDP 3784); the sessions do not run", "err", err)
		}
	}()
}

// stopBFD stops the sessions; what tracked them sees them Down.
func (d *Daemon) stopBFD() {
	v, ok := bfdRuns.LoadAndDelete(d)
	if !ok {
		return
	}
	run := v.(*bfdRun)
	run.cancel()
	<-run.done
	for _, n := range run.names {
		bfd.Unpublish(n)
	}
}
