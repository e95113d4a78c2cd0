package vrrp

import (
	"slices"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// SyncFailbackHold is how long an instance that follows lvs_sync_daemon
// holds back from preempting a lower-priority master, counted from its
// start (when its director's backup sync daemon starts). A director that
// comes back has an empty IPVS connection table; the surviving master's
// daemon re-announces every connection that sends anything at least every
// sync_refresh_period (10 s, which lvsd sets: see daemon/syncknobs.go),
// so after 35 s it has learnt every connection silent for no longer than
// 30 s (the telematics heartbeat) plus the 2 s a master daemon may hold a
// message, with margin. Taking the addresses earlier resets the
// connections it has not learnt (docs/failover.md has the measurements).
//
// It is keepalived's preempt_delay, raised to this floor: the instance
// accepts the lower-priority master's adverts while it holds, and a master
// that stops advertising is still taken over after the master-down
// interval (there is nothing to learn from a dead master). The address
// owner (priority 255) and nopreempt instances never preempt by waiting,
// so they are left alone.
const SyncFailbackHold = 35 * time.Second

// applySyncFailbackHold raises the preempt delay of the instances whose
// addresses carry synchronised connections: the instance lvs_sync_daemon
// names and the members of its sync group; every instance when it names
// none (its sync daemons then serve every address).
func applySyncFailbackHold(cfg *config.Config, s *Spec) {
	for i := range s.Instances {
		holdForSync(cfg, &s.Instances[i])
	}
}

// holdForSync applies SyncFailbackHold to one resolved instance; the
// router and ResolveSpec both go through it, so what runs is what a reload
// compares.
func holdForSync(cfg *config.Config, in *InstanceSpec) {
	sd := cfg.Global.LVSSyncDaemon
	if sd == nil {
		return
	}
	if sd.Instance != "" && sd.Instance != in.Name && !sameSyncGroup(cfg, sd.Instance, in.Name) {
		return
	}
	if !in.Preempt || in.Priority >= OwnerPriority || in.PreemptDelay >= SyncFailbackHold {
		return
	}
	in.PreemptDelay = SyncFailbackHold
	in.SyncFailbackHold = true
}

func sameSyncGroup(cfg *config.Config, a, b string) bool {
	for _, g := range cfg.SyncGroups {
		if slices.Contains(g.Members, a) && slices.Contains(g.Members, b) {
			return true
		}
	}
	return false
}
