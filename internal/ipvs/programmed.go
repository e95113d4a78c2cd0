package ipvs

import (
	"context"
	"maps"
	"slices"
)

// The syncer's policy: it remembers the table it last brought the kernel
// to, and chooses from it how much to read and write. The daemon only says
// why it reconciles.

// Programmed is the table the syncer last brought the kernel to; nil when
// unknown (before the first reconcile, after a failed one), when the next
// reconcile reads the whole kernel table.
func (s *Syncer) Programmed() Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.programmed
}

func (s *Syncer) setProgrammed(ctx context.Context, desired Table, err error) {
	if ctx.Err() != nil {
		return // cut short: what was written is unknown, as before
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.programmed = nil // the next reconcile reads everything
		return
	}
	s.programmed = desired
}

// Update brings the kernel to desired. When incremental (a health change,
// a reload) and the last table is known, only the services that differ from
// it are read and written (ChangedServices, ReconcileServices), and noop
// says none did: nothing was read or written. Otherwise the whole table is
// read and reconciled.
func (s *Syncer) Update(ctx context.Context, desired Table, incremental bool) (st Stats, noop bool, err error) {
	if prev := s.Programmed(); incremental && prev != nil {
		changed, removed := changedServices(prev, desired)
		if len(changed)+len(removed) == 0 {
			return s.Stats(), true, nil
		}
		st, err = s.ReconcileServices(ctx, prev, desired, changed, removed)
	} else {
		st, err = s.ReconcileContext(ctx, desired)
	}
	s.setProgrammed(ctx, desired, err)
	return st, false, err
}

// Repair compares the last table with the whole kernel table and writes
// the difference (a change made by hand, a write that was lost): between
// health changes and reloads, which reconcile as they happen, the last
// table is current, so no table is built; build makes one when there is
// none. InterruptRepair cuts it short between writes (a reload must not
// wait for a 30,000-service read), and interrupted says so; the next
// repair does it again.
func (s *Syncer) Repair(ctx context.Context, build func() Table) (st Stats, interrupted bool, err error) {
	desired := s.Programmed()
	if desired == nil {
		desired = build()
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.repairCancel.Store(&cancel)
	defer s.repairCancel.Store(nil)
	st, err = s.ReconcileContext(rctx, desired)
	if rctx.Err() != nil && ctx.Err() == nil {
		return st, true, err
	}
	s.setProgrammed(ctx, desired, err)
	return st, false, err
}

// InterruptRepair cancels a Repair in progress, if any; safe from any
// goroutine.
func (s *Syncer) InterruptRepair() {
	if c := s.repairCancel.Load(); c != nil {
		(*c)()
	}
}

// ForgetProgrammed makes the next reconcile read the whole kernel table,
// as after a failed one.
func (s *Syncer) ForgetProgrammed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.programmed = nil
}

// changedServices is ChangedServices (the same lists, in the same order)
// for a reload of 10,000 services of which one changed: a service that
// desired shares with prev (DesiredTableFrom) is unchanged without
// comparing its dests, only the changed keys are sorted, and prev is
// scanned for removed services only when some of its keys are not in next.
func changedServices(prev, next Table) (changed, removed []ServiceKey) {
	kept := 0
	for k, n := range next {
		p, ok := prev[k]
		if ok {
			kept++
			if p == n {
				continue
			}
		}
		if !ok || !sameAttrs(p, n) || !maps.Equal(p.Dests, n.Dests) {
			changed = append(changed, k)
		}
	}
	if kept != len(prev) {
		for k := range prev {
			if _, ok := next[k]; !ok {
				removed = append(removed, k)
			}
		}
	}
	slices.SortFunc(changed, compareKeys)
	slices.SortFunc(removed, compareKeys)
	return changed, removed
}
