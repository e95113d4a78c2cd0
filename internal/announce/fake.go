package announce

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
)

// Fake is an OS in memory that records every change, for tests.
type Fake struct {
	mu     sync.Mutex
	routes map[netip.Prefix]bool
	// Ops records "add P" and "del P" in order.
	Ops []string
	// FailAdd and FailDel make Add or Del of that prefix fail; FailList
	// makes List fail.
	FailAdd, FailDel map[netip.Prefix]bool
	FailList         bool
}

// NewFake returns a Fake holding the routes in have (left by an earlier
// lvsd, say).
func NewFake(have ...netip.Prefix) *Fake {
	f := &Fake{routes: map[netip.Prefix]bool{}}
	for _, p := range have {
		f.routes[p] = true
	}
	return f
}

var errFake = errors.New("fake failure")

func (f *Fake) List() ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailList {
		return nil, errFake
	}
	out := make([]netip.Prefix, 0, len(f.routes))
	for p := range f.routes {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return out, nil
}

func (f *Fake) Add(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailAdd[p] {
		return errFake
	}
	f.routes[p] = true
	f.Ops = append(f.Ops, "add "+p.String())
	return nil
}

func (f *Fake) Del(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailDel[p] {
		return errFake
	}
	delete(f.routes, p)
	f.Ops = append(f.Ops, "del "+p.String())
	return nil
}

// Routes returns the routes the fake holds, sorted.
func (f *Fake) Routes() []netip.Prefix {
	l, _ := (&Fake{routes: f.snapshot()}).List()
	return l
}

func (f *Fake) snapshot() map[netip.Prefix]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[netip.Prefix]bool, len(f.routes))
	for p := range f.routes {
		m[p] = true
	}
	return m
}

// TakeOps returns the recorded operations and clears them.
func (f *Fake) TakeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.Ops
	f.Ops = nil
	return ops
}
