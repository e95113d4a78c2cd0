package ipvs

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// StopMode says what Stop does to the kernel table.
type StopMode uint8

const (
	// StopRemoveOwn removes the services lvsd programmed (the default).
	StopRemoveOwn StopMode = iota
	// StopKeep leaves the table in place for a hitless restart.
	StopKeep
	// StopFlushAll empties the whole table (keepalived's lvs_flush_onstop).
	StopFlushAll
)

// Stats counts the syncer's work, for metrics and tests.
type Stats struct {
	Reconciles int
	Writes     int
	Errors     int
	LastOps    []Op
}

// Syncer makes the kernel's IPVS table match the desired one. It is safe
// for use from several goroutines; each call runs to completion.
type Syncer struct {
	mu    sync.Mutex
	k     Kernel
	log   *slog.Logger
	owned map[ServiceKey]bool
	// stateFile remembers owned services across restarts, so that a service
	// dropped from the config while lvsd was down is still removed, and
	// foreign services are never touched. Empty disables it.
	stateFile  string
	ownedDirty bool // owned differs from what stateFile holds
	flush      bool
	stats      Stats
	// programmed is the table last reconciled (programmed.go).
	programmed Table
	// repairCancel cuts a Repair short (InterruptRepair).
	repairCancel atomic.Pointer[context.CancelFunc]
}

func (s *Syncer) own(k ServiceKey) {
	if !s.owned[k] {
		s.owned[k] = true
		s.ownedDirty = true
	}
}

func (s *Syncer) disown(k ServiceKey) {
	if s.owned[k] {
		delete(s.owned, k)
		s.ownedDirty = true
	}
}

// NewSyncer returns a syncer over k. stateFile may be empty.
func NewSyncer(k Kernel, log *slog.Logger, stateFile string, flush bool) *Syncer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{k: k, log: log, owned: map[ServiceKey]bool{}, stateFile: stateFile, flush: flush}
	s.loadState()
	return s
}

// Reconcile reads the kernel table, writes the difference, and returns the
// ops it attempted. A failing op is logged with the object it concerns,
// counted, and left for the next reconcile to retry; it never stops the others.
func (s *Syncer) Reconcile(desired Table) (Stats, error) {
	return s.ReconcileContext(context.Background(), desired)
}

// ReconcileContext is Reconcile that stops between writes once ctx is
// done (a stopping daemon must not finish a 30,000-write reconcile first);
// what it did not write, the next reconcile will.
func (s *Syncer) ReconcileContext(ctx context.Context, desired Table) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	observed, err := ReadTableContext(ctx, s.k)
	if err != nil {
		if ctx.Err() == nil {
			s.stats.Errors++
		}
		return s.stats, err
	}
	ops := Diff(desired, observed, Ownership{Previous: s.owned, Flush: s.flush})
	s.stats.Reconciles++
	s.stats.LastOps = ops
	firstErr := s.apply(ctx, ops)
	if err := ctx.Err(); err != nil {
		s.saveState()
		return s.stats, err
	}
	for k := range desired {
		s.own(k)
	}
	// Owned services no longer desired and not in the kernel are forgotten.
	for k := range s.owned {
		if _, want := desired[k]; !want {
			if _, there := observed[k]; !there {
				s.disown(k)
			}
		}
	}
	s.saveState()
	return s.stats, firstErr
}

// apply writes ops in order, in batches where the kernel connection
// takes them. A failing op is logged with the object it concerns,
// counted, and left for the next reconcile; it never stops the others.
// It stops early when ctx is done. s.mu is held.
func (s *Syncer) apply(ctx context.Context, ops []Op) error {
	w := opWriter{s: s, failed: map[ServiceKey]bool{}, debug: s.log.Enabled(ctx, slog.LevelDebug)}
	write, size := s.k.Write, maxBatch
	batch := make([]Op, 0, min(size, len(ops)))
	for next := 0; next < len(ops) && ctx.Err() == nil; {
		batch = batch[:0]
		for next < len(ops) && len(batch) < size {
			if op := ops[next]; !w.skip(op) {
				batch = append(batch, op)
			}
			next++
		}
		if len(batch) == 0 {
			continue // all skipped
		}
		for i, err := range write(batch) {
			// A destination sent in the same batch as its service, which
			// failed: that failure is the one to report.
			if err != nil && w.skip(batch[i]) {
				s.stats.Writes++
				continue
			}
			w.record(batch[i], err)
		}
	}
	return w.firstErr
}

// opWriter keeps the bookkeeping of one apply.
type opWriter struct {
	s        *Syncer
	failed   map[ServiceKey]bool // services whose creation failed
	firstErr error
	debug    bool // formatting 50,000 ops for a disabled debug log is not free
}

// skip says op is not worth sending: its service could not be created
// (retried next time).
func (w *opWriter) skip(op Op) bool {
	return w.failed[op.Service.ServiceKey] && op.Kind != RemoveService
}

func (w *opWriter) record(op Op, err error) {
	s := w.s
	s.stats.Writes++
	if err != nil {
		s.stats.Errors++
		s.log.Error("ipvs write failed", "op", op.Kind.String(), "service", op.Service.ServiceKey.String(), "dest", op.Dest.DestKey.String(), "err", err)
		if op.Kind == CreateService {
			w.failed[op.Service.ServiceKey] = true
		}
		if op.Kind != RemoveService && w.firstErr == nil { // a removal stays owned: tried again later
			w.firstErr = err
		}
		return
	}
	switch op.Kind {
	case RemoveService:
		s.disown(op.Service.ServiceKey)
	case CreateService:
		s.own(op.Service.ServiceKey) // even if interrupted later
	}
	if w.debug {
		s.log.Debug("ipvs write", "op", op.String())
	}
}

// ReconcileServices brings only the listed services of desired into line,
// reading just them (and their destinations) from the kernel, and removes
// the listed services of prev that lvsd owns. A health change or a reload
// costs the reads and writes of the services it touches, not a read of a
// 30,000-destination table; the periodic full Reconcile still repairs
// everything else. prev is the table last reconciled.
func (s *Syncer) ReconcileServices(ctx context.Context, prev, desired Table, changed, removed []ServiceKey) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := Table{}
	for _, k := range changed {
		if want, ok := desired[k]; ok {
			sub[k] = want
		}
	}
	// Only these services, with their destinations: one missing from the
	// kernel is left out, and Diff creates it.
	observed, err := s.k.ReadTable(ctx, ReadOptions{Services: sub.SortedKeys()}) // never nil: not all
	if err != nil {
		if ctx.Err() == nil {
			s.stats.Errors++
		}
		return s.stats, err
	}
	ops := Diff(sub, observed, Ownership{})
	for _, k := range removed {
		if p, ok := prev[k]; ok && s.owned[k] {
			ops = append(ops, Op{Kind: RemoveService, Service: *p})
		}
	}
	s.stats.Reconciles++
	s.stats.LastOps = ops
	err = s.apply(ctx, ops)
	for k := range sub {
		s.own(k)
	}
	s.saveState()
	return s.stats, err
}

// Stop applies mode to the kernel table.
func (s *Syncer) Stop(mode StopMode) error {
	if mode == StopKeep {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Services only: removing a service removes its destinations, and
	// reading 30,000 destinations first would only delay the stop.
	svcs, err := s.k.ReadTable(context.Background(), ReadOptions{NoDests: true})
	if err != nil {
		return err
	}
	var firstErr error
	for _, k := range svcs.SortedKeys() {
		svc := svcs[k]
		if mode != StopFlushAll && !s.owned[svc.ServiceKey] {
			continue
		}
		s.stats.Writes++
		if err := Apply(s.k, Op{Kind: RemoveService, Service: *svc}); err != nil && firstErr == nil {
			firstErr = err
		}
		s.disown(svc.ServiceKey)
	}
	s.saveState()
	return firstErr
}

// Stats returns a copy of the counters.
func (s *Syncer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

type stateDoc struct {
	Owned []ServiceKey `json:"owned"`
}

func (s *Syncer) loadState() {
	if s.stateFile == "" {
		return
	}
	b, err := os.ReadFile(s.stateFile)
	if err != nil {
		return
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		s.log.Warn("ignoring unreadable IPVS state file", "file", s.stateFile, "err", err)
		return
	}
	for _, k := range doc.Owned {
		s.owned[k] = true
	}
}

// saveState writes the owned services if they changed (a repair that
// changes nothing writes nothing).
func (s *Syncer) saveState() {
	if s.stateFile == "" || !s.ownedDirty {
		return
	}
	doc := stateDoc{}
	for k := range s.owned {
		doc.Owned = append(doc.Owned, k)
	}
	b, _ := json.Marshal(doc)
	if err := os.MkdirAll(filepath.Dir(s.stateFile), 0o700); err == nil {
		tmp := s.stateFile + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, s.stateFile)
			if err == nil {
				s.ownedDirty = false
				return
			}
		}
	}
	s.log.Warn("cannot save IPVS state file", "file", s.stateFile)
}
