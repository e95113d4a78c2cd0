package ipvs

import (
	"net/netip"
	"os"
	"sync"
	"syscall"

	cf "github.com/cloudflare/ipvs"
)

// FakeKernel is an in-memory IPVS with the kernel's quirks that matter to
// the syncer: it reports the hashed flag, returns an error (not an empty
// list) when there are no services, ESRCH for a missing service, EEXIST for
// duplicates, and stores every field of an update. It counts writes.
type FakeKernel struct {
	mu     sync.Mutex
	svcs   map[ServiceKey]*fakeSvc
	order  []ServiceKey
	Writes int
	// Batches counts WriteBatch calls (the kernel's sends of many writes).
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
}

// WriteBatch applies ops one by one, as the kernel does with the messages
// of one send: an error in one does not stop the next.
func (f *FakeKernel) WriteBatch(ops []Op) []error {
	f.mu.Lock()
	f.Batches++
	f.mu.Unlock()
	errs := make([]error, len(ops))
	for i, op := range ops {
		errs[i] = Apply(f, op)
	}
	return errs
}

type fakeSvc struct {
	svc   cf.Service
	dests []cf.Destination
}

func NewFakeKernel() *FakeKernel { return &FakeKernel{svcs: map[ServiceKey]*fakeSvc{}} }

func fakeKey(s cf.Service) ServiceKey {
	return fromLib(s).ServiceKey
}

func (f *FakeKernel) write() error {
	f.Writes++
	if err := f.FailNext; err != nil {
		f.FailNext = nil
		return err
	}
	return nil
}

func (f *FakeKernel) Services() ([]cf.ServiceExtended, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.svcs) == 0 {
		return nil, os.ErrNotExist
	}
	var out []cf.ServiceExtended
	for _, k := range f.order {
		s := f.svcs[k].svc
		s.Flags |= cf.ServiceHashed
		if s.FWMark != 0 {
			// The kernel reports a fwmark service with a zero address.
			s.Address = netip.IPv4Unspecified()
			if s.Family == cf.INET6 {
				s.Address = netip.IPv6Unspecified()
			}
		}
		out = append(out, cf.ServiceExtended{Service: s})
	}
	return out, nil
}

func (f *FakeKernel) Destinations(s cf.Service) ([]cf.DestinationExtended, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs, ok := f.svcs[fakeKey(s)]
	if !ok {
		return nil, syscall.ESRCH
	}
	if len(fs.dests) == 0 {
		return nil, os.ErrNotExist
	}
	out := make([]cf.DestinationExtended, 0, len(fs.dests))
	for _, d := range fs.dests {
		out = append(out, cf.DestinationExtended{Destination: d})
	}
	return out, nil
}

func (f *FakeKernel) CreateService(s cf.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.write(); err != nil {
		return err
	}
	k := fakeKey(s)
	if _, ok := f.svcs[k]; ok {
		return syscall.EEXIST
	}
	if !s.Netmask.IsValid() {
		return syscall.EINVAL
	}
	f.svcs[k] = &fakeSvc{svc: s}
	f.order = append(f.order, k)
	return nil
}

func (f *FakeKernel) UpdateService(s cf.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.write(); err != nil {
		return err
	}
	fs, ok := f.svcs[fakeKey(s)]
	if !ok {
		return syscall.ESRCH
	}
	fs.svc = s
	return nil
}

func (f *FakeKernel) RemoveService(s cf.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.write(); err != nil {
		return err
	}
	k := fakeKey(s)
	if _, ok := f.svcs[k]; !ok {
		return syscall.ESRCH
	}
	delete(f.svcs, k)
	for i, o := range f.order {
		if o == k {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
	return nil
}

func (f *FakeKernel) destIndex(fs *fakeSvc, d cf.Destination) int {
	for i, x := range fs.dests {
		if x.Address == d.Address && x.Port == d.Port {
			return i
		}
	}
	return -1
}

// destWrite is the prelude every destination write shares: count the
// write (or fail it on request), find the service (ESRCH when missing) and
// the destination's index in it (-1 when absent), then run change.
func (f *FakeKernel) destWrite(s cf.Service, d cf.Destination, change func(fs *fakeSvc, i int) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.write(); err != nil {
		return err
	}
	fs, ok := f.svcs[fakeKey(s)]
	if !ok {
		return syscall.ESRCH
	}
	return change(fs, f.destIndex(fs, d))
}

func (f *FakeKernel) CreateDestination(s cf.Service, d cf.Destination) error {
	return f.destWrite(s, d, func(fs *fakeSvc, i int) error {
		if i >= 0 {
			return syscall.EEXIST
		}
		fs.dests = append(fs.dests, d)
		return nil
	})
}

func (f *FakeKernel) UpdateDestination(s cf.Service, d cf.Destination) error {
	return f.destWrite(s, d, func(fs *fakeSvc, i int) error {
		if i < 0 {
			return syscall.ENOENT
		}
		fs.dests[i] = d // every field replaced, as the kernel does
		return nil
	})
}

func (f *FakeKernel) RemoveDestination(s cf.Service, d cf.Destination) error {
	return f.destWrite(s, d, func(fs *fakeSvc, i int) error {
		if i < 0 {
			return syscall.ENOENT
		}
		fs.dests = append(fs.dests[:i], fs.dests[i+1:]...)
		return nil
	})
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
