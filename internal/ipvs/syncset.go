package ipvs

import (
	"errors"
	"fmt"
)

// SetSyncDaemons makes the kernel run exactly the daemons in want (at
// most one per state): a daemon of a state not wanted is stopped, one
// whose settings differ is stopped and started again, a missing one is
// started. Settings left zero in want (the kernel's defaults) are not
// compared. It returns how many requests it sent.
func SetSyncDaemons(k Kernel, want []SyncDaemon) (int, error) {
	running, err := k.SyncDaemons()
	if err != nil {
		return 0, fmt.Errorf("read sync daemons: %w", err)
	}
	have := map[SyncState]SyncDaemon{}
	for _, d := range running {
		have[d.State] = d
	}
	wanted := map[SyncState]SyncDaemon{}
	for _, d := range want {
		wanted[d.State] = d
	}
	writes := 0
	var errs []error
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		h, running := have[s]
		w, ok := wanted[s]
		if running && (!ok || !syncSettingsMatch(w, h)) {
			writes++
			if err := k.StopSyncDaemon(s); err != nil {
				errs = append(errs, err)
				continue
			}
			running = false
		}
		if ok && !running {
			writes++
			if err := k.StartSyncDaemon(w); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return writes, errors.Join(errs...)
}

// syncSettingsMatch reports whether the running daemon r has what w asks.
func syncSettingsMatch(w, r SyncDaemon) bool {
	return w.Interface == r.Interface && w.SyncID == r.SyncID &&
		(w.MaxLen == 0 || w.KernelMaxLen() == r.MaxLen) && (w.Port == 0 || w.Port == r.Port) &&
		(w.TTL == 0 || w.TTL == r.TTL) && (!w.Group.IsValid() || w.Group == r.Group)
}
