package ipvs

import (
	"fmt"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// The kernel's IPVS connection timeouts (ipvsadm --set, keepalived's
// lvs_timeouts): how long an established TCP connection, a TCP connection
// after its FIN, and a UDP "connection" stay in the table without a
// packet. They belong to the network namespace, not to a service.
const (
	ipvsCmdSetConfig = 12
	ipvsCmdGetConfig = 13

	ipvsCmdAttrTimeoutTCP    = 4
	ipvsCmdAttrTimeoutTCPFin = 5
	ipvsCmdAttrTimeoutUDP    = 6
)

// Timeouts are the IPVS timeouts in seconds. In SetTimeouts, 0 leaves
// that timeout as it is (the kernel's ip_vs_set_timeout).
type Timeouts struct {
	TCP, TCPFin, UDP uint32
}

func (t Timeouts) String() string {
	return fmt.Sprintf("tcp %d tcpfin %d udp %d", t.TCP, t.TCPFin, t.UDP)
}

// encodeSetConfig is IPVS_CMD_SET_CONFIG as keepalived's libipvs sends
// it: the three timeouts, always, in this order.
func encodeSetConfig(t Timeouts) (genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(ipvsCmdAttrTimeoutTCP, t.TCP)
	ae.Uint32(ipvsCmdAttrTimeoutTCPFin, t.TCPFin)
	ae.Uint32(ipvsCmdAttrTimeoutUDP, t.UDP)
	data, err := ae.Encode()
	if err != nil {
		return genetlink.Message{}, err
	}
	return genetlink.Message{Header: genetlink.Header{Command: ipvsCmdSetConfig, Version: ipvsGenlVersion}, Data: data}, nil
}

// decodeConfig reads the reply to IPVS_CMD_GET_CONFIG. The kernel sends
// the UDP timeout only with UDP support, the TCP ones only with TCP's.
func decodeConfig(attrs []byte) (Timeouts, error) {
	var t Timeouts
	err := eachAttr(attrs, func(typ uint16, v []byte) (err error) {
		switch typ {
		case ipvsCmdAttrTimeoutTCP:
			t.TCP, err = attrU32(typ, v)
		case ipvsCmdAttrTimeoutTCPFin:
			t.TCPFin, err = attrU32(typ, v)
		case ipvsCmdAttrTimeoutUDP:
			t.UDP, err = attrU32(typ, v)
		}
		return err
	})
	if err != nil {
		return Timeouts{}, fmt.Errorf("IPVS timeouts: %w", err)
	}
	return t, nil
}

// Timeouts reads the kernel's IPVS timeouts.
func (k *netlinkKernel) Timeouts() (Timeouts, error) {
	var t Timeouts
	err := k.with(func(c *genlConn) error {
		return c.get(ipvsCmdGetConfig, nil, func(attrs []byte) (err error) {
			t, err = decodeConfig(attrs)
			return err
		})
	})
	if err != nil {
		return Timeouts{}, fmt.Errorf("read IPVS timeouts: %w", err)
	}
	return t, nil
}

// SetTimeouts sets the kernel's IPVS timeouts; a 0 leaves that one.
func (k *netlinkKernel) SetTimeouts(t Timeouts) error {
	msg, err := encodeSetConfig(t)
	if err != nil {
		return err
	}
	if err := k.with(func(c *genlConn) error { return c.request(msg) }); err != nil {
		return fmt.Errorf("set IPVS timeouts (%s): %w", t, err)
	}
	return nil
}

// TimeoutKeeper sets the IPVS timeouts as keepalived 2.2.7 does for
// lvs_timeouts (check_daemon.c, libipvs.c ipvs_set_timeout): before its
// first change it reads the kernel's timeouts, once; a timeout the
// configuration does not give is set back to that value; a configuration
// without lvs_timeouts puts all three back (once any was changed), and so
// does Restore, at stop.
type TimeoutKeeper struct {
	orig *Timeouts
}

// Apply sets want (0: not given) on k.
func (tk *TimeoutKeeper) Apply(k Kernel, want Timeouts) error {
	if want == (Timeouts{}) {
		return tk.Restore(k)
	}
	if tk.orig == nil {
		// keepalived logs a failed read and goes on: what it could not
		// read it sends as 0, which leaves it.
		orig, err := k.Timeouts()
		if err != nil {
			return err
		}
		tk.orig = &orig
	}
	set := want
	if set.TCP == 0 {
		set.TCP = tk.orig.TCP
	}
	if set.TCPFin == 0 {
		set.TCPFin = tk.orig.TCPFin
	}
	if set.UDP == 0 {
		set.UDP = tk.orig.UDP
	}
	return k.SetTimeouts(set)
}

// Restore puts back the timeouts read before the first change, if any.
func (tk *TimeoutKeeper) Restore(k Kernel) error {
	if tk.orig == nil {
		return nil
	}
	return k.SetTimeouts(*tk.orig)
}

// KernelDefaultTimeouts are the timeouts of a new network namespace
// (ip_vs_proto_tcp.c, ip_vs_proto_udp.c): what FakeKernel starts with.
var KernelDefaultTimeouts = Timeouts{TCP: 900, TCPFin: 120, UDP: 300}
