package netif

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// promoteState remembers the interfaces whose
// net.ipv4.conf.DEV.promote_secondaries PromoteSecondaries raised, so that
// RestorePromoteSecondaries lowers only those (keepalived's
// reset_promote_secondaries count).
var promoteState = struct {
	sync.Mutex
	raised map[string]bool
}{raised: map[string]bool{}}

// PromoteSecondaries sets net.ipv4.conf.DEV.promote_secondaries to 1 if it
// is 0, as keepalived's set_promote_secondaries for an instance with
// promote_secondaries: deleting the primary address then promotes a
// secondary (a VIP in the same subnet) instead of flushing them all.
func PromoteSecondaries(dev string) error {
	promoteState.Lock()
	defer promoteState.Unlock()
	v, err := Sysctl("ipv4", dev, "promote_secondaries")
	if err != nil {
		return fmt.Errorf("promote_secondaries on %s: %w", dev, err)
	}
	if v != 0 {
		return nil
	}
	if err := SetSysctl("ipv4", dev, "promote_secondaries", 1); err != nil {
		return fmt.Errorf("promote_secondaries on %s: %w", dev, err)
	}
	promoteState.raised[dev] = true
	return nil
}

// RestorePromoteSecondaries sets promote_secondaries back to 0 on every
// interface PromoteSecondaries raised, as keepalived does at its final
// stop (never at a reload). An interface that is gone is skipped.
func RestorePromoteSecondaries() error {
	promoteState.Lock()
	defer promoteState.Unlock()
	devs := make([]string, 0, len(promoteState.raised))
	for dev := range promoteState.raised {
		devs = append(devs, dev)
	}
	sort.Strings(devs)
	var errs []error
	for _, dev := range devs {
		delete(promoteState.raised, dev)
		if _, err := Sysctl("ipv4", dev, "promote_secondaries"); err != nil {
			continue // the interface is gone, and its setting with it
		}
		if err := SetSysctl("ipv4", dev, "promote_secondaries", 0); err != nil {
			errs = append(errs, fmt.Errorf("restoring promote_secondaries on %s: %w", dev, err))
		}
	}
	return errors.Join(errs...)
}
