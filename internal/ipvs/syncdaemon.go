package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The kernel's IPVS connection synchronisation daemon (net/netfilter/ipvs/
// ip_vs_sync.c). A master daemon multicasts the connections its director
// handles; a backup daemon receives them into its own table, so that a
// director taking over the virtual addresses already knows the live
// connections. Each network namespace runs at most one master and one
// backup daemon, independently of each other. These messages are built as
// ipvsadm (libipvs) builds them, and the tests compare them with
// ipvsadm's bytes captured in the lab VM.
const (
	ipvsCmdNewDaemon = 9
	ipvsCmdDelDaemon = 10
	ipvsCmdGetDaemon = 11

	ipvsCmdAttrDaemon = 3

	ipvsDaemonAttrState       = 1
	ipvsDaemonAttrMcastIfn    = 2
	ipvsDaemonAttrSyncID      = 3
	ipvsDaemonAttrSyncMaxLen  = 4
	ipvsDaemonAttrMcastGroup  = 5
	ipvsDaemonAttrMcastGroup6 = 6
	ipvsDaemonAttrMcastPort   = 7
	ipvsDaemonAttrMcastTTL    = 8

	// ipvsIfNameMaxLen is IP_VS_IFNAME_MAXLEN: the kernel's policy takes
	// at most 15 bytes and a NUL.
	ipvsIfNameMaxLen = 16
)

// SyncState is a sync daemon's role, the kernel's IP_VS_STATE_MASTER and
// IP_VS_STATE_BACKUP.
type SyncState uint32

const (
	SyncMaster SyncState = 1
	SyncBackup SyncState = 2
)

func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("state-%d", uint32(s))
}

// The kernel's defaults for what a start request leaves out
// (start_sync_thread): 224.0.0.81, port 8848, TTL 1, and a message
// length that fits the interface's MTU (a master assumes 1500).
var DefaultSyncGroup = netip.AddrFrom4([4]byte{224, 0, 0, 81})

const (
	DefaultSyncPort = 8848
	DefaultSyncTTL  = 1
)

// SyncDaemon is one running (or wanted) sync daemon. In a start request,
// zero MaxLen, Port and TTL and an invalid Group leave the kernel's
// defaults; the kernel reports every field of a running daemon.
type SyncDaemon struct {
	State SyncState
	// Interface carries the sync messages: masters send on it, backups
	// join the group on it.
	Interface string
	// SyncID tags a master's messages; a backup with a non-zero SyncID
	// drops messages of other ids. keepalived and ipvsadm take 0..255
	// (the message carries one byte); the kernel stores 32 bits.
	SyncID uint32
	// MaxLen is the UDP payload of one sync message.
	MaxLen uint16
	Port   uint16
	TTL    uint8
	Group  netip.Addr
}

// String is ipvsadm -L --daemon's line for the daemon.
func (d SyncDaemon) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		fmt.Fprintf(&b, ", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		fmt.Fprintf(&b, ", group=%s", d.Group)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, ", port=%d", d.Port)
	}
	if d.TTL != 0 {
		fmt.Fprintf(&b, ", ttl=%d", d.TTL)
	}
	b.WriteString(")")
	return b.String()
}

// check applies the kernel's checks of a start request that need no
// device: the kernel answers EINVAL (policy, multicast group) for these.
func (d SyncDaemon) check() error {
	if d.State != SyncMaster && d.State != SyncBackup {
		return fmt.Errorf("sync daemon state %d is neither master nor backup: %w", uint32(d.State), syscall.EINVAL)
	}
	if len(d.Interface) >= ipvsIfNameMaxLen || strings.IndexByte(d.Interface, 0) >= 0 {
		return fmt.Errorf("sync daemon interface %q is longer than %d bytes: %w", d.Interface, ipvsIfNameMaxLen-1, syscall.EINVAL)
	}
	// An IPv4-mapped group would go out as IPVS_DAEMON_ATTR_MCAST_GROUP6,
	// which the kernel refuses as not multicast.
	if d.Group.IsValid() && (d.Group.Is4In6() || !d.Group.IsMulticast()) {
		return fmt.Errorf("sync daemon group %s is not a multicast address: %w", d.Group, syscall.EINVAL)
	}
	return nil
}

// encodeStartDaemon is IPVS_CMD_NEW_DAEMON as ipvsadm --start-daemon (and
// keepalived's libipvs) sends it: state, interface and sync id always, the
// other attributes only when set, in ipvsadm's order.
func encodeStartDaemon(d SyncDaemon) (genetlink.Message, error) {
	if err := d.check(); err != nil {
		return genetlink.Message{}, err
	}
	return encodeDaemonCmd(ipvsCmdNewDaemon, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(ipvsDaemonAttrState, uint32(d.State))
		ae.String(ipvsDaemonAttrMcastIfn, d.Interface)
		ae.Uint32(ipvsDaemonAttrSyncID, d.SyncID)
		if d.MaxLen != 0 {
			ae.Uint16(ipvsDaemonAttrSyncMaxLen, d.MaxLen)
		}
		if d.Port != 0 {
			ae.Uint16(ipvsDaemonAttrMcastPort, d.Port) // host byte order, unlike service ports
		}
		if d.TTL != 0 {
			ae.Uint8(ipvsDaemonAttrMcastTTL, d.TTL)
		}
		switch {
		case d.Group.Is4():
			ae.Bytes(ipvsDaemonAttrMcastGroup, d.Group.AsSlice()) // network byte order
		case d.Group.Is6():
			ae.Bytes(ipvsDaemonAttrMcastGroup6, d.Group.AsSlice())
		}
	})
}

// encodeStopDaemon is IPVS_CMD_DEL_DAEMON as ipvsadm --stop-daemon sends
// it. The kernel reads only the state; ipvsadm also sends an empty
// interface and sync id 0, and so does lvsd, byte for byte.
func encodeStopDaemon(state SyncState) (genetlink.Message, error) {
	if state != SyncMaster && state != SyncBackup {
		return genetlink.Message{}, fmt.Errorf("sync daemon state %d is neither master nor backup: %w", uint32(state), syscall.EINVAL)
	}
	return encodeDaemonCmd(ipvsCmdDelDaemon, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(ipvsDaemonAttrState, uint32(state))
		ae.String(ipvsDaemonAttrMcastIfn, "")
		ae.Uint32(ipvsDaemonAttrSyncID, 0)
	})
}

func encodeDaemonCmd(cmd uint8, attrs func(ae *netlink.AttributeEncoder)) (genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	// libnl's nla_nest_start marks the nest NLA_F_NESTED; so does Nested.
	ae.Nested(ipvsCmdAttrDaemon, func(nae *netlink.AttributeEncoder) error {
		attrs(nae)
		return nil
	})
	data, err := ae.Encode()
	if err != nil {
		return genetlink.Message{}, err
	}
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion}, Data: data}, nil
}

// decodeDaemonMsg decodes one message of an IPVS_CMD_GET_DAEMON dump.
func decodeDaemonMsg(attrs []byte) (SyncDaemon, error) {
	b, err := nested(attrs, ipvsCmdAttrDaemon)
	if err != nil || b == nil {
		return SyncDaemon{}, fmt.Errorf("sync daemon message: %w", errors.Join(err, errors.New("no daemon attribute")))
	}
	var d SyncDaemon
	var haveState, haveIfn bool
	err = eachAttr(b, func(t uint16, v []byte) (err error) {
		switch t {
		case ipvsDaemonAttrState:
			var s uint32
			s, err = attrU32(t, v)
			d.State, haveState = SyncState(s), true
		case ipvsDaemonAttrMcastIfn:
			d.Interface, haveIfn = cString(v), true
		case ipvsDaemonAttrSyncID:
			d.SyncID, err = attrU32(t, v)
		case ipvsDaemonAttrSyncMaxLen:
			d.MaxLen, err = attrU16(t, v)
		case ipvsDaemonAttrMcastPort:
			d.Port, err = attrU16(t, v)
		case ipvsDaemonAttrMcastTTL:
			if len(v) < 1 {
				return fmt.Errorf("attribute %d: no byte", t)
			}
			d.TTL = v[0]
		case ipvsDaemonAttrMcastGroup:
			if len(v) < 4 {
				return fmt.Errorf("attribute %d: %d bytes, want 4", t, len(v))
			}
			d.Group = netip.AddrFrom4([4]byte(v[:4]))
		case ipvsDaemonAttrMcastGroup6:
			if len(v) < 16 {
				return fmt.Errorf("attribute %d: %d bytes, want 16", t, len(v))
			}
			d.Group = netip.AddrFrom16([16]byte(v[:16]))
		}
		return err
	})
	if err != nil {
		return SyncDaemon{}, fmt.Errorf("sync daemon: %w", err)
	}
	if !haveState || !haveIfn {
		return SyncDaemon{}, errors.New("sync daemon: no state or interface attribute")
	}
	return d, nil
}

// request sends one request and waits for its acknowledgement.
func (c *genlConn) request(msg genetlink.Message) error {
	c.seq++
	seq := c.seq
	c.buf = appendMessage(c.buf[:0], c.family, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, msg)
	if err := c.send(c.buf); err != nil {
		return err
	}
	for {
		reply, err := c.receive()
		if err != nil {
			return fmt.Errorf("no acknowledgement: %w", err)
		}
		acked, code := false, int32(0)
		parseAcks(reply, seq, 1, func(_ int, c int32) { acked, code = true, c })
		if acked {
			if code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
}

func (c *genlConn) startDaemon(d SyncDaemon) error {
	msg, err := encodeStartDaemon(d)
	if err != nil {
		return err
	}
	return c.request(msg)
}

func (c *genlConn) stopDaemon(state SyncState) error {
	msg, err := encodeStopDaemon(state)
	if err != nil {
		return err
	}
	return c.request(msg)
}

// daemons dumps the running sync daemons: the master's first, as the
// kernel sends them.
func (c *genlConn) daemons() ([]SyncDaemon, error) {
	var out []SyncDaemon
	err := c.dump(ipvsCmdGetDaemon, nil, func(attrs []byte) error {
		d, err := decodeDaemonMsg(attrs)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list IPVS sync daemons: %w", err)
	}
	return out, nil
}

// StartSyncDaemon starts a sync daemon. The kernel answers EEXIST when a
// daemon of that state already runs (whatever its settings), ENODEV for an
// unknown interface, EINVAL for a group that is not multicast.
func (k *netlinkKernel) StartSyncDaemon(d SyncDaemon) error {
	return k.with(func(c *genlConn) error {
		if err := c.startDaemon(d); err != nil {
			return fmt.Errorf("start %s sync daemon on %s: %w", d.State, d.Interface, err)
		}
		return nil
	})
}

// StopSyncDaemon stops the daemon of that state; ESRCH when none runs.
func (k *netlinkKernel) StopSyncDaemon(state SyncState) error {
	return k.with(func(c *genlConn) error {
		if err := c.stopDaemon(state); err != nil {
			return fmt.Errorf("stop %s sync daemon: %w", state, err)
		}
		return nil
	})
}

// SyncDaemons lists the running sync daemons (none: an empty list).
func (k *netlinkKernel) SyncDaemons() ([]SyncDaemon, error) {
	var out []SyncDaemon
	err := k.with(func(c *genlConn) (err error) {
		out, err = c.daemons()
		return err
	})
	return out, err
}

// IsSyncDaemonRunning reports the error of starting a daemon whose state
// already runs (EEXIST).
func IsSyncDaemonRunning(err error) bool { return errors.Is(err, syscall.EEXIST) }

// IsNoSyncDaemon reports the error of stopping a daemon that does not run
// (ESRCH).
func IsNoSyncDaemon(err error) bool { return errors.Is(err, syscall.ESRCH) }

// syncMsgHeaderLen is the IP and UDP header the kernel subtracts from the
// MTU for a sync message (IPv4; IPv6 is 48).
func syncMsgHeaderLen(group netip.Addr) int {
	if group.Is6() {
		return 48
	}
	return 28
}

// kernelDefaults fills in what start_sync_thread fills in for a start
// request, for an interface of MTU 1500 (the fake's model of the kernel).
func (d SyncDaemon) kernelDefaults() SyncDaemon {
	if !d.Group.IsValid() {
		d.Group = DefaultSyncGroup
	}
	if d.Port == 0 {
		d.Port = DefaultSyncPort
	}
	if d.TTL == 0 {
		d.TTL = DefaultSyncTTL
	}
	if d.MaxLen == 0 {
		d.MaxLen = uint16(1500 - syncMsgHeaderLen(d.Group))
	} else {
		d.MaxLen = d.KernelMaxLen()
	}
	return d
}

// KernelMaxLen is the message length the kernel keeps (and reports) for a
// start request with this MaxLen: at least 1024 for a backup, at most
// 65535 less the IP and UDP headers (65507 for an IPv4 group, 65487 for
// IPv6). 0 stays 0: the kernel then takes the interface's MTU. A running
// daemon's MaxLen is to be compared with this, not with the request's.
func (d SyncDaemon) KernelMaxLen() uint16 {
	if d.MaxLen == 0 {
		return 0
	}
	hlen := syncMsgHeaderLen(d.Group)
	minLen := 1
	if d.State == SyncBackup {
		minLen = 1024
	}
	return uint16(min(max(int(d.MaxLen), minLen), 65535-hlen))
}
