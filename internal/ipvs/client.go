package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	cf "github.com/cloudflare/ipvs"
)

// Kernel is the narrow view of IPVS the syncer needs; the netlink client
// and the in-memory fake both implement it.
type Kernel interface {
	Services() ([]cf.ServiceExtended, error)
	Destinations(cf.Service) ([]cf.DestinationExtended, error)
	CreateService(cf.Service) error
	UpdateService(cf.Service) error
	RemoveService(cf.Service) error
	CreateDestination(cf.Service, cf.Destination) error
	UpdateDestination(cf.Service, cf.Destination) error
	RemoveDestination(cf.Service, cf.Destination) error

	// The kernel's connection sync daemons (syncdaemon.go): at most one
	// master and one backup per network namespace.
	StartSyncDaemon(SyncDaemon) error
	StopSyncDaemon(SyncState) error
	SyncDaemons() ([]SyncDaemon, error)
}

// NewNetlink opens the kernel's IPVS generic netlink family: reads and
// single writes through cloudflare/ipvs, runs of writes in batches.
func NewNetlink() (Kernel, error) {
	c, err := cf.New()
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink (is the ip_vs module loaded?): %w", err)
	}
	b, err := newGenlConn()
	if err != nil {
		if closer, ok := c.(io.Closer); ok {
			closer.Close()
		}
		return nil, fmt.Errorf("open IPVS netlink for batches: %w", err)
	}
	return &netlinkKernel{Client: c, conn: b}, nil
}

// BatchWriter is a Kernel that can apply several ops in one send; the
// syncer uses it when it has more than one op to write.
type BatchWriter interface {
	// WriteBatch applies ops in order and returns one error per op (nil
	// where applied or already converged).
	WriteBatch(ops []Op) []error
}

type netlinkKernel struct {
	cf.Client
	conn *genlConn
}

func (k *netlinkKernel) WriteBatch(ops []Op) []error { return k.conn.write(ops) }

// toLib builds the library's service from ours; every field is set so
// that an update never resets an attribute to a zero value.
func toLib(s Service) cf.Service {
	out := cf.Service{
		Scheduler: s.Scheduler,
		Timeout:   s.Timeout,
		Flags:     cf.Flags(s.Flags),
		Netmask:   s.Netmask,
		Family:    cf.INET,
	}
	if s.IPv6 {
		out.Family = cf.INET6
	}
	if s.FWMark != 0 {
		out.FWMark = s.FWMark
		return out
	}
	out.Address, out.Port, out.Protocol = s.Addr, s.Port, cf.Protocol(s.Protocol)
	return out
}

func destToLib(d Dest) cf.Destination {
	out := cf.Destination{
		Address:        d.Addr,
		Port:           d.Port,
		Weight:         d.Weight,
		UpperThreshold: d.UThreshold,
		LowerThreshold: d.LThreshold,
		Family:         cf.INET,
		TunnelType:     cf.TunnelType(d.Tunnel.Type),
		TunnelPort:     d.Tunnel.Port,
		TunnelFlags:    cf.TunnelFlags(d.Tunnel.Flags),
	}
	if d.Addr.Is6() {
		out.Family = cf.INET6
	}
	switch d.Method {
	case DR:
		out.FwdMethod = cf.DirectRoute
	case TUN:
		out.FwdMethod = cf.Tunnel
	default:
		out.FwdMethod = cf.Masquerade
	}
	return out
}

// fromLib normalises what the kernel reports: it drops the hashed flag and,
// for fwmark services, the address, port and protocol the kernel fills in.
func fromLib(s cf.Service) Service {
	out := Service{
		ServiceKey: ServiceKey{IPv6: s.Family == cf.INET6},
		Scheduler:  s.Scheduler,
		Flags:      uint32(s.Flags) &^ flagHashed,
		Timeout:    s.Timeout,
		Netmask:    s.Netmask,
		Dests:      map[DestKey]Dest{},
	}
	if out.Flags&FlagPersistent == 0 {
		out.Timeout = 0
	}
	if s.FWMark != 0 {
		out.FWMark = s.FWMark
		return out
	}
	out.Protocol, out.Addr, out.Port = uint16(s.Protocol), s.Address, s.Port
	return out
}

func destFromLib(d cf.Destination) Dest {
	out := Dest{
		DestKey:    DestKey{Addr: d.Address, Port: d.Port},
		Weight:     d.Weight,
		UThreshold: d.UpperThreshold,
		LThreshold: d.LowerThreshold,
		Tunnel:     Tunnel{Type: uint8(d.TunnelType), Port: d.TunnelPort, Flags: uint16(d.TunnelFlags)},
	}
	switch d.FwdMethod & 0x7 {
	case cf.DirectRoute:
		out.Method = DR
	case cf.Tunnel:
		out.Method = TUN
	}
	if out.Addr.Is4In6() {
		out.Addr = out.Addr.Unmap()
	}
	return out
}

// ReadTable reads the whole kernel table. The library reports an empty list
// as an error; that is an empty table, not a failure.
func ReadTable(k Kernel) (Table, error) {
	return ReadTableContext(context.Background(), k)
}

// ReadTableContext is ReadTable that gives up between services once ctx
// is done: a big table takes a while to read.
func ReadTableContext(ctx context.Context, k Kernel) (Table, error) {
	if r, ok := k.(TableReader); ok {
		return r.ReadTable(ctx)
	}
	t := Table{}
	pk, _ := k.(peKernel)
	err := eachService(ctx, k, func(sx cf.ServiceExtended, dests []cf.DestinationExtended) {
		s := fromLib(sx.Service)
		if pk != nil {
			s.PEName = pk.servicePE(s.ServiceKey)
		}
		for _, dx := range dests {
			d := destFromLib(dx.Destination)
			s.Dests[d.DestKey] = d
		}
		t[s.ServiceKey] = &s
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// eachService reads every service and its destinations from the kernel,
// stopping between services once ctx is done. No services at all is not
// an error (the kernel reports it as one).
func eachService(ctx context.Context, k Kernel, fn func(cf.ServiceExtended, []cf.DestinationExtended)) error {
	svcs, err := k.Services()
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list IPVS services: %w", err)
	}
	for _, sx := range svcs {
		if err := ctx.Err(); err != nil {
			return err
		}
		dests, err := k.Destinations(sx.Service)
		if err != nil && !isNotExist(err) {
			return fmt.Errorf("list destinations of %s: %w", fromLib(sx.Service).ServiceKey, err)
		}
		fn(sx, dests)
	}
	return nil
}

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

// peKernel is a Kernel that keeps services' persistence engines, which
// cloudflare/ipvs cannot send: the netlink kernel writes such a service
// with its own encoder, the fake keeps the name beside the service.
// applyPE reports whether it handled op (a CreateService or UpdateService).
type peKernel interface {
	applyPE(op Op) (bool, error)
	servicePE(k ServiceKey) string
}

func (k *netlinkKernel) applyPE(op Op) (bool, error) {
	if op.Service.PEName == "" {
		return false, nil // the library's message is the same
	}
	return true, k.conn.write([]Op{op})[0]
}

// servicePE is not needed for reads: the dump reader decodes the name.
func (k *netlinkKernel) servicePE(ServiceKey) string { return "" }

// Apply performs one op against the kernel.
func Apply(k Kernel, op Op) error {
	if pk, ok := k.(peKernel); ok && (op.Kind == CreateService || op.Kind == UpdateService) {
		if handled, err := pk.applyPE(op); handled {
			return err
		}
	}
	svc := toLib(op.Service)
	var err error
	switch op.Kind {
	case CreateService:
		err = k.CreateService(svc)
	case UpdateService:
		err = k.UpdateService(svc)
	case RemoveService:
		err = k.RemoveService(svc)
	case CreateDest:
		err = k.CreateDestination(svc, destToLib(op.Dest))
	case UpdateDest:
		err = k.UpdateDestination(svc, destToLib(op.Dest))
	case RemoveDest:
		err = k.RemoveDestination(svc, destToLib(op.Dest))
	}
	if err != nil && converged(op.Kind, err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ServiceStats are the kernel's counters of one service and its real
// servers, read at scrape or status time.
type ServiceStats struct {
	Key   ServiceKey
	Stats cf.Stats
	Dests []DestStats
}

// DestStats are one real server's counters.
type DestStats struct {
	DestKey
	Weight   uint32
	Active   uint32
	Inactive uint32
	Stats    cf.Stats
}

// ReadStats reads every service's and real server's counters.
func ReadStats(k Kernel) ([]ServiceStats, error) {
	var out []ServiceStats
	err := eachService(context.Background(), k, func(sx cf.ServiceExtended, dests []cf.DestinationExtended) {
		ss := ServiceStats{Key: fromLib(sx.Service).ServiceKey, Stats: sx.Stats64}
		for _, dx := range dests {
			ss.Dests = append(ss.Dests, DestStats{DestKey: DestKey{Addr: dx.Address, Port: dx.Port}, Weight: dx.Weight,
				Active: dx.ActiveConnections, Inactive: dx.InactiveConnections, Stats: dx.Stats64})
		}
		out = append(out, ss)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
