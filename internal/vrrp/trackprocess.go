package vrrp

import (
	"context"
	"sort"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/track"
)

// processItems is what in tracks of vrrp_track_process blocks: its own
// entries, then its sync group's (keepalived's add_vrrp_to_track_process:
// a process on both takes the group's weight unless the instance's is 0,
// and keeps the instance's reverse).
func (r *Router) processItems(in *instance) []config.TrackItem {
	return mergeTracked(in.cfg.TrackProcesses, in.syncCfg, func(g *config.SyncGroup) []config.TrackItem { return g.TrackProcesses }, false)
}

// startProcesses scans /proc for the tracked processes (their quorum at
// start, as keepalived's read_procs) and then follows them: a change of
// quorum is posted to the router as a re-track.
func (r *Router) startProcesses(ctx context.Context) {
	r.procs = map[string]bool{}
	var list []*config.TrackProcess
	for _, in := range r.insts {
		for _, t := range r.processItems(in) {
			if tp := r.cfg.TrackProcesses[t.Name]; tp != nil {
				if _, seen := r.procs[t.Name]; !seen {
					r.procs[t.Name] = false
					list = append(list, tp)
				}
			}
		}
	}
	if len(list) == 0 {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	w := track.NewProcessWatcher(list, r.procRoot)
	for _, tp := range list {
		r.procs[tp.Name] = w.Quorum(tp.Name)
		r.log.Info("vrrp_track_process", "process", tp.Name, "count", w.Count(tp.Name), "quorum", r.procs[tp.Name])
	}
	r.scriptLoops.Add(1)
	go func() {
		defer r.scriptLoops.Done()
		w.Run(ctx, r.procPoll, func(name string, q bool) {
			r.post(ctx, func() {
				if r.procs[name] == q {
					return
				}
				r.procs[name] = q
				what := "lost"
				if q {
					what = "gained"
				}
				r.log.Info("quorum "+what+" for tracked process", "process", name)
				r.retrack(r.now())
			})
		})
	}()
}
