package vrrp

import (
	"context"
	"fmt"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/config"
)

// track_bfd: a vrrp_instance (or its sync group) follows a bfd_instance's
// session, as keepalived 2.2.7's VRRP process follows its bfd process's
// events (vrrp_scheduler.c vrrp_handle_bfd_event, vrrp_track.c
// initialise_track_bfd_state). A session is Down until it reports Up: an
// unweighted entry faults the instance until then (reverse: while Up); a
// weight adds when Up (positive) or when Down (negative), reversed by
// "reverse", as track_script's weights.
//
// The sessions' states are the process's published ones (bfd.Published,
// set by the daemon's BFD runner); BFDChanged re-tracks on a change, and
// bfdEffects, called from effective(), applies them.

// TracksBFD reports whether any instance tracks a bfd_instance.
func (r *Router) TracksBFD() bool {
	for _, in := range r.insts {
		if len(r.bfdItems(in)) > 0 {
			return true
		}
	}
	return false
}

// BFDChanged tells the router that bfd_instance name's published state
// changed: the instances tracking it log it, as keepalived does, and
// re-track. It may be called from any goroutine while the router runs.
func (r *Router) BFDChanged(ctx context.Context, name string) {
	r.post(ctx, func() {
		word := map[bool]string{true: "UP", false: "DOWN"}[r.bfdUp(name)]
		for _, in := range r.insts {
			for _, t := range r.bfdItems(in) {
				if t.Name == name {
					r.log.Info(fmt.Sprintf("VRRP_Instance(%s) Tracked BFD instance %s is %s", in.cfg.Name, name, word))
				}
			}
		}
		r.retrack(r.now())
	})
}

func (r *Router) bfdUp(name string) bool { return bfd.Published(name) == bfd.Up }

// bfdItems is what in tracks of the BFD sessions: its own entries, then
// its sync group's; a session on both takes the group's weight unless the
// instance's was 0 (keepalived's add_vrrp_to_track_bfd).
func (r *Router) bfdItems(in *instance) []config.TrackItem {
	return mergeTracked(in.cfg.TrackBFDs, in.syncCfg, func(g *config.SyncGroup) []config.TrackItem { return g.TrackBFDs }, true)
}

// bfdEffects applies in's tracked sessions through effective()'s apply.
func (r *Router) bfdEffects(in *instance, apply func(t config.TrackItem, up bool, defWeight int)) {
	for _, t := range r.bfdItems(in) {
		t.HasWeight = true // the bfd_instance's weight is already resolved in
		apply(t, r.bfdUp(t.Name), 0)
	}
}
