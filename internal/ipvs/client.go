package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Kernel is the IPVS kernel as lvsd uses it, in lvsd's own types: read
// the table (all of it or some services), write a batch of ops, read the
// counters, and run the connection sync daemons. The netlink kernel
// (NewNetlink: one generic netlink stack, batch.go, dump.go,
// syncdaemon.go) and the in-memory fake (fake.go) implement all of it;
// nothing widens it by type assertion.
type Kernel interface {
	// ReadTable reads services and their destinations, normalised as the
	// syncer compares them (no hashed flag, no timeout without
	// persistence, no address on a fwmark service). See ReadOptions.
	ReadTable(ctx context.Context, opts ReadOptions) (Table, error)
	// Write applies ops in order and returns one error per op, nil where
	// applied or already converged (a create that finds the object, a
	// removal that does not). An error in one op does not stop the next,
	// as the kernel handles each message of a send as if sent alone.
	Write(ops []Op) []error
	// ReadStats reads every service's and real server's counters.
	ReadStats(ctx context.Context) ([]ServiceStats, error)

	// The kernel's connection sync daemons (syncdaemon.go): at most one
	// master and one backup per network namespace.
	StartSyncDaemon(SyncDaemon) error
	StopSyncDaemon(SyncState) error
	SyncDaemons() ([]SyncDaemon, error)

	// The connection timeouts of the namespace (timeouts.go).
	Timeouts() (Timeouts, error)
	SetTimeouts(Timeouts) error
}

// ReadOptions selects what ReadTable reads.
type ReadOptions struct {
	// Services, when not nil, limits the read to these services; one the
	// kernel does not have is left out of the table (not an error).
	Services []ServiceKey
	// NoDests reads the services only: their Dests are empty.
	NoDests bool
}

// Counters are the kernel's statistics of a service or real server
// (IPVS_STATS_ATTR_*: totals since creation, and rates).
type Counters struct {
	Connections     uint64
	IncomingPackets uint64
	OutgoingPackets uint64
	IncomingBytes   uint64
	OutgoingBytes   uint64

	ConnectionRate     uint64
	IncomingPacketRate uint64
	OutgoingPacketRate uint64
	IncomingByteRate   uint64
	OutgoingByteRate   uint64
}

// ServiceStats are the kernel's counters of one service and its real
// servers, read at scrape or status time.
type ServiceStats struct {
	Key   ServiceKey
	Stats Counters
	Dests []DestStats
}

// DestStats are one real server's counters.
type DestStats struct {
	DestKey
	Weight     uint32
	Active     uint32
	Inactive   uint32
	Persistent uint32
	Stats      Counters
}

// NewNetlink opens the kernel's IPVS generic netlink family.
func NewNetlink() (Kernel, error) {
	family, err := ipvsFamily()
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink (is the ip_vs module loaded?): %w", err)
	}
	k := &netlinkKernel{dial: func() (*genlConn, error) { return newGenlConn(family) }}
	// Open one socket now, so that a kernel without IPVS fails here.
	c, err := k.dial()
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink: %w", err)
	}
	k.idle = append(k.idle, c)
	return k, nil
}

// netlinkKernel is the one netlink implementation of Kernel. Each call
// takes a socket of its own from a small pool: the syncer's writes, a
// scrape's stats dump and a VRRP transition's sync daemon request may run
// at the same time and must not read each other's replies.
type netlinkKernel struct {
	dial func() (*genlConn, error)
	mu   sync.Mutex
	idle []*genlConn
}

// maxIdleConns bounds the pool: the syncer, a scrape, a status request
// and a sync daemon change at once.
const maxIdleConns = 4

func (k *netlinkKernel) with(fn func(c *genlConn) error) error {
	k.mu.Lock()
	var c *genlConn
	if n := len(k.idle); n > 0 {
		c, k.idle = k.idle[n-1], k.idle[:n-1]
	}
	k.mu.Unlock()
	if c == nil {
		var err error
		if c, err = k.dial(); err != nil {
			return fmt.Errorf("open IPVS netlink: %w", err)
		}
	}
	err := fn(c)
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.broken || len(k.idle) >= maxIdleConns {
		// A socket that lost a reply may still deliver it: not reused.
		c.Close()
		return err
	}
	k.idle = append(k.idle, c)
	return err
}

func (k *netlinkKernel) ReadTable(ctx context.Context, opts ReadOptions) (t Table, err error) {
	err = k.with(func(c *genlConn) error { t, err = c.readTable(ctx, opts); return err })
	return t, err
}

func (k *netlinkKernel) Write(ops []Op) []error {
	errs := make([]error, 0, len(ops))
	for len(ops) > 0 {
		n := min(len(ops), maxBatch)
		var batch []error
		if err := k.with(func(c *genlConn) error { batch = c.write(ops[:n]); return nil }); err != nil {
			for _, op := range ops[:n] {
				batch = append(batch, fmt.Errorf("%s: %w", op, err))
			}
		}
		errs = append(errs, batch...)
		ops = ops[n:]
	}
	return errs
}

func (k *netlinkKernel) ReadStats(ctx context.Context) (s []ServiceStats, err error) {
	err = k.with(func(c *genlConn) error { s, err = c.readStats(ctx); return err })
	return s, err
}

// ReadTable reads the whole kernel table.
func ReadTable(k Kernel) (Table, error) {
	return k.ReadTable(context.Background(), ReadOptions{})
}

// ReadTableContext is ReadTable that gives up between services once ctx
// is done: a big table takes a while to read.
func ReadTableContext(ctx context.Context, k Kernel) (Table, error) {
	return k.ReadTable(ctx, ReadOptions{})
}

// Apply performs one op against the kernel.
func Apply(k Kernel, op Op) error { return k.Write([]Op{op})[0] }

// ReadStats reads every service's and real server's counters.
func ReadStats(k Kernel) ([]ServiceStats, error) { return k.ReadStats(context.Background()) }

func isNotExist(err error) bool {
	return err != nil && (errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH))
}

// converged reports errors that mean someone else already made the change
// (a concurrent ipvsadm, or a retry after a lost reply).
func converged(kind OpKind, err error) bool {
	switch kind {
	case CreateService, CreateDest:
		return errors.Is(err, syscall.EEXIST)
	case RemoveService, RemoveDest:
		return isNotExist(err)
	}
	return false
}
