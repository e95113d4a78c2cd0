package ipvs

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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
	stateFile string
	flush     bool
	stats     Stats
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
	s.mu.Lock()
	defer s.mu.Unlock()
	observed, err := ReadTable(s.k)
	if err != nil {
		s.stats.Errors++
		return s.stats, err
	}
	ops := Diff(desired, observed, Ownership{Previous: s.owned, Flush: s.flush})
	s.stats.Reconciles++
	s.stats.LastOps = ops
	var firstErr error
	failed := map[ServiceKey]bool{}
	for _, op := range ops {
		if failed[op.Service.ServiceKey] && op.Kind != RemoveService {
			continue // its service could not be created; retry next time
		}
		s.stats.Writes++
		if err := Apply(s.k, op); err != nil {
			s.stats.Errors++
			s.log.Error("ipvs write failed", "op", op.Kind.String(), "service", op.Service.ServiceKey.String(), "dest", op.Dest.DestKey.String(), "err", err)
			if op.Kind == CreateService {
				failed[op.Service.ServiceKey] = true
			}
			if op.Kind == RemoveService {
				continue // still owned: try again later
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if op.Kind == RemoveService {
			delete(s.owned, op.Service.ServiceKey)
		}
		s.log.Debug("ipvs write", "op", op.String())
	}
	for k := range desired {
		s.owned[k] = true
	}
	// Owned services no longer desired and not in the kernel are forgotten.
	for k := range s.owned {
		if _, want := desired[k]; !want {
			if _, there := observed[k]; !there {
				delete(s.owned, k)
			}
		}
	}
	s.saveState()
	return s.stats, firstErr
}

// Stop applies mode to the kernel table.
func (s *Syncer) Stop(mode StopMode) error {
	if mode == StopKeep {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	observed, err := ReadTable(s.k)
	if err != nil {
		return err
	}
	var firstErr error
	for _, k := range observed.SortedKeys() {
		if mode != StopFlushAll && !s.owned[k] {
			continue
		}
		s.stats.Writes++
		if err := Apply(s.k, Op{Kind: RemoveService, Service: *observed[k]}); err != nil && firstErr == nil {
			firstErr = err
		}
		delete(s.owned, k)
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

func (s *Syncer) saveState() {
	if s.stateFile == "" {
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
				return
			}
		}
	}
	s.log.Warn("cannot save IPVS state file", "file", s.stateFile)
}
