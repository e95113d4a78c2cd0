package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// templateResyncInterval is how often a director running the master sync
// daemon sends its persistence templates to the sync group. The kernel
// re-announces a template only with a connection it controls, and the
// connections a director learnt as a backup control none, so after a
// failover the templates would never reach a director that comes back.
// Sent every 10 s, a returning director has them all within its
// SyncFailbackHold (35 s) of holding back. Each template is one 36-byte
// record (72 for IPv6), 40 to a datagram.
const templateResyncInterval = 10 * time.Second

// ConnTableReader opens the kernel's connection table (/proc/net/ip_vs_conn).
type ConnTableReader func() (io.ReadCloser, error)

// SyncSender sends sync messages as the master daemon d would.
type SyncSender func(d ipvs.SyncDaemon, msgs [][]byte) error

func procConnTable() (io.ReadCloser, error) { return os.Open("/proc/net/ip_vs_conn") }

// runTemplateResync sends the templates while lvsd runs a master sync
// daemon and has persistent services; it ends with ctx.
func (d *Daemon) runTemplateResync(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var cached *config.Config
	var table ipvs.Table
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		master, ok := d.runningMasterDaemon()
		snap := d.snap.Load()
		if !ok || snap == nil {
			continue
		}
		if snap.cfg != cached {
			cached, table = snap.cfg, persistentServices(ipvs.DesiredTable(snap.cfg, nil))
		}
		if len(table) == 0 {
			continue
		}
		n, err := d.resyncTemplates(master, table)
		if err != nil {
			d.resyncErrors.Add(1)
			if err.Error() != lastErr {
				lastErr = err.Error()
				d.log.Error("ipvs sync: sending persistence templates", "err", err)
			}
			continue
		}
		if n > 0 && (lastErr != "" || d.resyncSent.Load() == 0) {
			d.log.Info("ipvs sync: sending persistence templates to the sync group", "templates", n, "every", every)
		}
		lastErr = ""
		d.resyncSent.Add(uint64(n))
	}
}

// runningMasterDaemon is the master sync daemon the kernel ran at the
// last check, if lvsd manages it.
func (d *Daemon) runningMasterDaemon() (ipvs.SyncDaemon, bool) {
	running, managed := d.IPVSSyncDaemons()
	if !managed {
		return ipvs.SyncDaemon{}, false
	}
	for _, r := range running {
		if r.State == ipvs.SyncMaster {
			return r, true
		}
	}
	return ipvs.SyncDaemon{}, false
}

// persistentServices keeps the services with persistence.
func persistentServices(t ipvs.Table) ipvs.Table {
	out := ipvs.Table{}
	for k, s := range t {
		if s.Flags&ipvs.FlagPersistent != 0 || s.Timeout > 0 {
			out[k] = s
		}
	}
	return out
}

// resyncTemplates reads the connection table and sends its templates of
// table's services; it returns how many it sent.
func (d *Daemon) resyncTemplates(master ipvs.SyncDaemon, table ipvs.Table) (int, error) {
	rc, err := d.opts.ConnTable()
	if err != nil {
		return 0, err
	}
	entries, err := ipvs.ParseConnTable(rc, ipvs.ConnEntry.Template)
	rc.Close()
	if err != nil {
		return 0, err
	}
	recs := ipvs.TemplateRecords(entries, table)
	if len(recs) == 0 {
		return 0, nil
	}
	maxLen := int(master.MaxLen)
	if maxLen == 0 {
		maxLen = 1472
	}
	if err := d.opts.SyncSend(master, ipvs.EncodeSyncV1(uint8(master.SyncID), recs, maxLen)); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// sendSyncMessages sends msgs to d's group and port, out of d's interface
// with d's TTL, as the kernel's master daemon does (multicast loop off, so
// a backup daemon on this director does not take them).
func sendSyncMessages(d ipvs.SyncDaemon, msgs [][]byte) error {
	ifi, err := net.InterfaceByName(d.Interface)
	if err != nil {
		return fmt.Errorf("sync interface %s: %w", d.Interface, err)
	}
	group, port, ttl := d.Group, int(d.Port), int(d.TTL)
	if !group.IsValid() {
		group = netip.MustParseAddr("224.0.0.81")
	}
	if port == 0 {
		port = ipvs.DefaultSyncPort
	}
	if ttl == 0 {
		ttl = 1
	}
	network := "udp4"
	if group.Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), d.Interface) })
		return errors.Join(err, serr)
	}}
	c, err := lc.ListenPacket(context.Background(), network, ":0")
	if err != nil {
		return err
	}
	defer c.Close()
	if group.Is6() {
		p := ipv6.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastHopLimit(ttl), p.SetMulticastLoopback(false))
	} else {
		p := ipv4.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastTTL(ttl), p.SetMulticastLoopback(false))
	}
	if err != nil {
		return err
	}
	dst := &net.UDPAddr{IP: group.AsSlice(), Port: port, Zone: zoneOf(group, ifi)}
	for _, m := range msgs {
		if _, err := c.WriteTo(m, dst); err != nil {
			return err
		}
	}
	return nil
}

func zoneOf(a netip.Addr, ifi *net.Interface) string {
	if a.Is6() && (a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()) {
		return ifi.Name
	}
	return ""
}
