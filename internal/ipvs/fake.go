package ipvs

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// FakeKernel is an in-memory IPVS implementing the whole Kernel seam,
// with the kernel's answers that matter to the syncer: ESRCH for a missing
// service, EEXIST for duplicates, ENOENT for a missing destination, EINVAL
// for a service without a netmask; every field of an update is stored,
// and Write takes converged errors as the netlink kernel does. Reads
// return copies normalised as the netlink decoder normalises the
// kernel's (the replay tests hold the decoder to the kernel's bytes). It
// counts writes.
type FakeKernel struct {
	mu     sync.Mutex
	svcs   map[ServiceKey]*Service
	order  []ServiceKey
	counts map[ServiceKey]ServiceStats
	Writes int
	// Batches counts Write calls of more than one op (the kernel's sends
	// of many writes).
	Batches int
	// FailNext, when set, makes the next write return this error.
	FailNext error

	// The sync daemons, by state. DaemonWrites counts start and stop
	// calls (apart from Writes, which counts table writes);
	// FailNextDaemon fails the next one; SyncInterfaces, when set, lists
	// the interfaces a daemon may use (others get ENODEV).
	daemons        map[SyncState]SyncDaemon
	DaemonWrites   int
	FailNextDaemon error
	SyncInterfaces map[string]bool

	// timeouts are the namespace's (nil: KernelDefaultTimeouts);
	// TimeoutWrites counts SetTimeouts calls.
	timeouts      *Timeouts
	TimeoutWrites int
}

var _ Kernel = (*FakeKernel)(nil)

func NewFakeKernel() *FakeKernel { return &FakeKernel{svcs: map[ServiceKey]*Service{}} }

// Write applies ops one by one, as the kernel does with the messages of
// one send: an error in one does not stop the next.
func (f *FakeKernel) Write(ops []Op) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(ops) > 1 {
		f.Batches++
	}
	errs := make([]error, len(ops))
	for i, op := range ops {
		if err := f.apply(op); err != nil && !converged(op.Kind, err) {
			errs[i] = fmt.Errorf("%s: %w", op, err)
		}
	}
	return errs
}

func (f *FakeKernel) apply(op Op) error {
	f.Writes++
	if err := f.FailNext; err != nil {
		f.FailNext = nil
		return err
	}
	k := kernelKey(op.Service.ServiceKey)
	s, ok := f.svcs[k]
	switch op.Kind {
	case CreateService:
		if ok {
			return syscall.EEXIST
		}
		if !op.Service.Netmask.IsValid() {
			return syscall.EINVAL
		}
		f.svcs[k] = kernelService(op.Service, map[DestKey]Dest{})
		f.order = append(f.order, k)
		return nil
	case CreateDest, UpdateDest, RemoveDest, UpdateService, RemoveService:
		if !ok {
			return syscall.ESRCH
		}
	default:
		return fmt.Errorf("unknown op %d", op.Kind)
	}
	_, there := s.Dests[op.Dest.DestKey]
	switch op.Kind {
	case UpdateService:
		f.svcs[k] = kernelService(op.Service, s.Dests) // every field replaced, as the kernel does
	case RemoveService:
		delete(f.svcs, k)
		f.order = slices.DeleteFunc(f.order, func(o ServiceKey) bool { return o == k })
	case CreateDest:
		if there {
			return syscall.EEXIST
		}
		s.Dests[op.Dest.DestKey] = op.Dest
	case UpdateDest, RemoveDest:
		if !there {
			return syscall.ENOENT
		}
		if op.Kind == RemoveDest {
			delete(s.Dests, op.Dest.DestKey)
		} else {
			s.Dests[op.Dest.DestKey] = op.Dest // every field replaced
		}
	}
	return nil
}

// kernelKey is what the kernel matches a service by: a fwmark service by
// family and mark alone.
func kernelKey(k ServiceKey) ServiceKey {
	if k.FWMark != 0 {
		return ServiceKey{IPv6: k.IPv6, FWMark: k.FWMark}
	}
	return k
}

// kernelService is svc as the kernel keeps it: no timeout without
// persistence, a fwmark service without address, port or protocol.
func kernelService(svc Service, dests map[DestKey]Dest) *Service {
	svc.Flags &^= flagHashed
	if svc.Flags&FlagPersistent == 0 {
		svc.Timeout = 0
	}
	if svc.FWMark != 0 {
		svc.Addr, svc.Port, svc.Protocol = netip.Addr{}, 0, 0
	}
	svc.Dests = dests
	return &svc
}

// ReadTable returns copies of the services opts selects, in the order
// they were created.
func (f *FakeKernel) ReadTable(ctx context.Context, opts ReadOptions) (Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := f.order
	if opts.Services != nil {
		keys = opts.Services
	}
	t := Table{}
	for _, k := range keys {
		s, ok := f.svcs[kernelKey(k)]
		if !ok {
			continue
		}
		c := *s
		c.Dests = map[DestKey]Dest{}
		if !opts.NoDests {
			maps.Copy(c.Dests, s.Dests)
		}
		t[k] = &c
	}
	return t, nil
}

// ReadStats reports every service and destination with the counters
// SetStats gave them (zero otherwise), and each destination's weight.
func (f *FakeKernel) ReadStats(ctx context.Context) ([]ServiceStats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ServiceStats
	for _, k := range f.order {
		set := f.counts[k]
		ss := ServiceStats{Key: k, Stats: set.Stats}
		for _, d := range f.svcs[k].SortedDests() {
			ds := DestStats{DestKey: d.DestKey}
			if i := slices.IndexFunc(set.Dests, func(x DestStats) bool { return x.DestKey == d.DestKey }); i >= 0 {
				ds = set.Dests[i]
			}
			ds.Weight = d.Weight
			ss.Dests = append(ss.Dests, ds)
		}
		out = append(out, ss)
	}
	return out, nil
}

// SetStats sets the counters ReadStats reports for s.Key and its
// destinations (their weights come from the table).
func (f *FakeKernel) SetStats(s ServiceStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[ServiceKey]ServiceStats{}
	}
	f.counts[s.Key] = s
}

// WriteCount is Writes, read under the lock (for tests that run the
// syncer in another goroutine).
func (f *FakeKernel) WriteCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Writes
}

// StartSyncDaemon starts a daemon as the kernel does: EINVAL for a bad
// state, name or group, then EEXIST when one of that state runs, then
// ENODEV for an empty interface name or one outside SyncInterfaces (when
// set). The
// kernel's defaults are filled in (group, port, TTL, a length for an MTU
// of 1500), so that SyncDaemons reports what the kernel would.
func (f *FakeKernel) StartSyncDaemon(d SyncDaemon) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DaemonWrites++
	if err := f.FailNextDaemon; err != nil {
		f.FailNextDaemon = nil
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	if _, ok := f.daemons[d.State]; ok {
		return syscall.EEXIST
	}
	if d.Interface == "" || f.SyncInterfaces != nil && !f.SyncInterfaces[d.Interface] {
		return syscall.ENODEV
	}
	if f.daemons == nil {
		f.daemons = map[SyncState]SyncDaemon{}
	}
	f.daemons[d.State] = d.kernelDefaults()
	return nil
}

// StopSyncDaemon stops the daemon of that state: ESRCH when none runs.
func (f *FakeKernel) StopSyncDaemon(state SyncState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DaemonWrites++
	if err := f.FailNextDaemon; err != nil {
		f.FailNextDaemon = nil
		return err
	}
	if state != SyncMaster && state != SyncBackup {
		return syscall.EINVAL
	}
	if _, ok := f.daemons[state]; !ok {
		return syscall.ESRCH
	}
	delete(f.daemons, state)
	return nil
}

// SyncDaemons lists the running daemons, master first, as the kernel does.
func (f *FakeKernel) SyncDaemons() ([]SyncDaemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SyncDaemon
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		if d, ok := f.daemons[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// SetSyncInterfaces replaces SyncInterfaces (the interfaces a sync daemon
// may start on) while the fake is in use.
func (f *FakeKernel) SetSyncInterfaces(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.SyncInterfaces = map[string]bool{}
	for _, n := range names {
		f.SyncInterfaces[n] = true
	}
}

// Timeouts reads the timeouts, the kernel's defaults until set.
func (f *FakeKernel) Timeouts() (Timeouts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timeouts == nil {
		return KernelDefaultTimeouts, nil
	}
	return *f.timeouts, nil
}

// SetTimeouts sets the non-zero timeouts, as the kernel does.
func (f *FakeKernel) SetTimeouts(t Timeouts) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := KernelDefaultTimeouts
	if f.timeouts != nil {
		cur = *f.timeouts
	}
	if t.TCP != 0 {
		cur.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		cur.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		cur.UDP = t.UDP
	}
	f.timeouts = &cur
	f.TimeoutWrites++
	return nil
}
