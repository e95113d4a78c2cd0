// Package ipvs turns the typed configuration and health results into the
// desired IPVS table, diffs it against the kernel's, and applies the
// difference through a narrow netlink client.
package ipvs

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Method is a forwarding method.
type Method uint8

const (
	NAT Method = iota
	DR
	TUN
)

func (m Method) String() string {
	switch m {
	case DR:
		return "DR"
	case TUN:
		return "TUN"
	}
	return "NAT"
}

// Protocol numbers as the kernel uses them.
const (
	ProtoTCP  uint16 = 6
	ProtoUDP  uint16 = 17
	ProtoSCTP uint16 = 132
)

// Service flags the syncer manages (the kernel's IP_VS_SVC_F_*). The kernel
// also reports "hashed" (0x2), which is never compared.
const (
	FlagPersistent uint32 = 0x0001
	flagHashed     uint32 = 0x0002
	FlagOnePacket  uint32 = 0x0004
	FlagSched1     uint32 = 0x0008
	FlagSched2     uint32 = 0x0010
	FlagSched3     uint32 = 0x0020
)

// ServiceKey identifies a virtual service in the kernel.
type ServiceKey struct {
	IPv6     bool
	Protocol uint16 // 0 for fwmark services
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32
}

func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		fam := ""
		if k.IPv6 {
			fam = "/inet6"
		}
		return fmt.Sprintf("FWM %d%s", k.FWMark, fam)
	}
	return fmt.Sprintf("%s %s", ProtoName(k.Protocol), netip.AddrPortFrom(k.Addr, k.Port))
}

// ProtoName is the protocol as ipvsadm and node_exporter name it.
func ProtoName(p uint16) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto%d", p)
}

// Service is one virtual service with its destinations.
type Service struct {
	ServiceKey
	Scheduler string
	Flags     uint32 // without the hashed flag
	Timeout   uint32 // persistence seconds
	Netmask   Netmask
	// PEName is the persistence engine (IPVS_SVC_ATTR_PE_NAME, e.g.
	// "sip"), "" for none.
	PEName string
	Dests  map[DestKey]Dest
}

// DestKey identifies a real server within a service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// Dest is a real server as the kernel holds it.
type Dest struct {
	DestKey
	Method     Method
	Weight     uint32
	UThreshold uint32
	LThreshold uint32
	// Tunnel is a TUN destination's encapsulation (IPVS_DEST_ATTR_TUN_TYPE,
	// _TUN_PORT, _TUN_FLAGS); zero (IPIP) for the other methods, as the
	// kernel reports them when keepalived sends none.
	Tunnel Tunnel
}

// Tunnel types and checksum flags as the kernel numbers them
// (IP_VS_CONN_F_TUNNEL_TYPE_*, IP_VS_TUNNEL_ENCAP_FLAG_*).
const (
	TunIPIP uint8 = 0
	TunGUE  uint8 = 1
	TunGRE  uint8 = 2

	TunNoCsum  uint16 = 0
	TunCsum    uint16 = 1
	TunRemCsum uint16 = 2
)

// Tunnel is a destination's tunnel attributes.
type Tunnel struct {
	Type  uint8
	Port  uint16 // GUE's UDP port
	Flags uint16
}

// saveArgs renders the tunnel as ipvsadm 1.31's print_tunnel_rule does.
func (t Tunnel) saveArgs() string {
	csum := map[uint16]string{TunNoCsum: "--tun-nocsum", TunCsum: "--tun-csum", TunRemCsum: "--tun-remcsum"}[t.Flags]
	switch t.Type {
	case TunIPIP:
		return " --tun-type ipip"
	case TunGUE:
		return fmt.Sprintf(" --tun-type gue --tun-port %d %s", t.Port, csum)
	case TunGRE:
		return " --tun-type gre " + csum
	}
	return ""
}

// Table is a whole IPVS table, desired or observed.
type Table map[ServiceKey]*Service

// sameAttrs reports whether two services need no UpdateService between them.
func sameAttrs(a, b *Service) bool {
	return a.Scheduler == b.Scheduler && a.Flags == b.Flags && a.Timeout == b.Timeout && a.Netmask == b.Netmask && a.PEName == b.PEName
}

// ChangedServices lists the services of next that differ from prev
// (attributes or destinations), and the services of prev gone from next.
func ChangedServices(prev, next Table) (changed, removed []ServiceKey) {
	for _, k := range next.SortedKeys() {
		p, ok := prev[k]
		if !ok || !sameAttrs(p, next[k]) || !maps.Equal(p.Dests, next[k].Dests) {
			changed = append(changed, k)
		}
	}
	for _, k := range prev.SortedKeys() {
		if _, ok := next[k]; !ok {
			removed = append(removed, k)
		}
	}
	return changed, removed
}

// SortedKeys returns the table's service keys in a stable order.
func (t Table) SortedKeys() []ServiceKey {
	keys := make([]ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b ServiceKey) int {
	return cmp.Or(
		cmp.Compare(a.FWMark, b.FWMark),
		a.Addr.Compare(b.Addr),
		cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.Protocol, b.Protocol),
		compareBool(a.IPv6, b.IPv6),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// SortedDests returns a service's destinations in a stable order.
func (s *Service) SortedDests() []Dest {
	out := make([]Dest, 0, len(s.Dests))
	for _, d := range s.Dests {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Dest) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// SaveFormat renders the table as `ipvsadm -S -n` does, one rule per line,
// sorted, so that tables from lvsd, keepalived and the kernel compare as text.
func (t Table) SaveFormat() string {
	var lines []string
	for _, k := range t.SortedKeys() {
		s := t[k]
		id := serviceArg(k)
		line := fmt.Sprintf("-A %s -s %s", id, s.Scheduler)
		if s.Flags&FlagPersistent != 0 {
			line += fmt.Sprintf(" -p %d", s.Timeout)
			if k.IPv6 {
				if bits := s.Netmask.Bits(); bits != 128 {
					line += fmt.Sprintf(" -M %d", bits)
				}
			} else if m := s.Netmask.String(); m != "255.255.255.255" {
				line += " -M " + m
			}
		}
		if s.PEName != "" {
			line += " --pe " + s.PEName
		}
		if f := schedFlagNames(s.Scheduler, s.Flags); f != "" {
			line += " -b " + f
		}
		if s.Flags&FlagOnePacket != 0 {
			line += " -o"
		}
		lines = append(lines, line)
		for _, d := range s.SortedDests() {
			method := map[Method]string{NAT: "-m", DR: "-g", TUN: "-i"}[d.Method]
			rl := fmt.Sprintf("-a %s -r %s %s -w %d", id, formatAddrPort(d.Addr, d.Port), method, d.Weight)
			if d.Method == TUN {
				rl += d.Tunnel.saveArgs()
			}
			if d.UThreshold != 0 {
				rl += fmt.Sprintf(" -x %d", d.UThreshold)
			}
			if d.LThreshold != 0 {
				rl += fmt.Sprintf(" -y %d", d.LThreshold)
			}
			lines = append(lines, rl)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func serviceArg(k ServiceKey) string {
	if k.FWMark != 0 {
		s := fmt.Sprintf("-f %d", k.FWMark)
		if k.IPv6 {
			s += " -6"
		}
		return s
	}
	flag := map[uint16]string{ProtoTCP: "-t", ProtoUDP: "-u", ProtoSCTP: "--sctp-service"}[k.Protocol]
	return flag + " " + formatAddrPort(k.Addr, k.Port)
}

func formatAddrPort(a netip.Addr, p uint16) string {
	if a.Is6() {
		return fmt.Sprintf("[%s]:%d", a, p)
	}
	return fmt.Sprintf("%s:%d", a, p)
}

// schedFlagNames names scheduler flags as ipvsadm prints them: the sh and
// mh schedulers give flag-1 and flag-2 their own names.
func schedFlagNames(sched string, flags uint32) string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	switch sched {
	case "sh":
		names = [3]string{"sh-fallback", "sh-port", "flag-3"}
	case "mh":
		names = [3]string{"mh-fallback", "mh-port", "flag-3"}
	}
	var out []string
	for i, f := range []uint32{FlagSched1, FlagSched2, FlagSched3} {
		if flags&f != 0 {
			out = append(out, names[i])
		}
	}
	return strings.Join(out, ",")
}
