package ipvs

import (
	"fmt"
	"net/netip"

	"github.com/lvsd/lvsd/internal/config"
)

// Health answers whether a real server currently passes its checks. The
// checker package implements it; nil means every real server is up, which is
// keepalived's start-up state without alpha.
type Health interface {
	// RealServerUp reports the state of rs in vs.
	RealServerUp(vs *config.VirtualServer, rs *config.RealServer) bool
}

// The checker also knows misc_dynamic weights and quorum with hysteresis;
// a Health that implements these is asked.
type weighter interface {
	RealServerWeight(vs *config.VirtualServer, rs *config.RealServer) (int, bool)
}

type quorumer interface {
	QuorumUp(vs *config.VirtualServer) bool
}

// keyedHealth is a Health (with weights and quorum) that can be asked by
// the virtual server's Key, built once per virtual server rather than
// once per real server; Uniform says every real server is up at its
// configured weight and every quorum holds (check.Snapshot).
type keyedHealth interface {
	RealServerUpKey(vsKey string, rs *config.RealServer) bool
	RealServerWeightKey(vsKey string, rs *config.RealServer) (int, bool)
	QuorumUpKey(vsKey string) bool
	Uniform() bool
}

// healthView is a Health with its optional interfaces resolved once per
// table.
type healthView struct {
	h       Health
	w       weighter
	q       quorumer
	k       keyedHealth
	uniform bool // k says every real server is up, unweighted, quorums held
}

func viewOf(h Health) healthView {
	v := healthView{h: h}
	if h == nil {
		return v
	}
	v.w, _ = h.(weighter)
	v.q, _ = h.(quorumer)
	if k, ok := h.(keyedHealth); ok {
		v.k, v.uniform = k, k.Uniform()
	}
	return v
}

// DesiredTable is the IPVS table the configuration asks for, given the
// health of each real server. It is a pure function: same inputs, same table.
func DesiredTable(cfg *config.Config, health Health) Table {
	return DesiredTableFrom(cfg, health, nil)
}

// DesiredTableFrom is DesiredTable, sharing with prev (a table an earlier
// DesiredTable made, such as Syncer.Programmed) the services that are the
// same in both: after a reload that changes one weight, one service is
// new and the others are prev's. Tables are never modified once built, so
// sharing their services is safe; the result is equal to DesiredTable's.
func DesiredTableFrom(cfg *config.Config, health Health, prev Table) Table {
	t := make(Table, len(cfg.VirtualServers))
	groups := map[string]*config.VSGroup{}
	for _, g := range cfg.VSGroups {
		groups[g.Name] = g
	}
	view := viewOf(health)
	var live []Dest // reused: each service copies the dests into its map
	for _, vs := range cfg.VirtualServers {
		var dests []Dest
		dests, live = desiredDests(vs, view, live[:0])
		for _, key := range serviceKeys(vs, groups) {
			svc := Service{
				ServiceKey: key,
				Scheduler:  vs.Scheduler,
				Flags:      serviceFlags(vs),
				Netmask:    serviceNetmask(vs, key),
			}
			if vs.Persistent {
				svc.Timeout = uint32(vs.Persistence.Seconds())
				// keepalived (ipvs_set_srule) names the engine only for a
				// persistent service.
				svc.PEName = vs.PersistenceEngine
			}
			if p := prev[key]; p != nil && sameService(p, &svc, dests) {
				t[key] = p
				continue
			}
			svc.Dests = make(map[DestKey]Dest, len(dests))
			for _, d := range dests {
				d = destFor(key, d)
				svc.Dests[d.DestKey] = d
			}
			n := new(Service)
			*n = svc
			t[key] = n
		}
	}
	return t
}

// sameService says p (a service of an earlier table under the same key)
// is what svc, with dests, would be.
func sameService(p, svc *Service, dests []Dest) bool {
	if p.ServiceKey != svc.ServiceKey || !sameAttrs(p, svc) || len(p.Dests) != len(dests) || len(dests) > 16 {
		return false
	}
	for i, d := range dests {
		d = destFor(svc.ServiceKey, d)
		if cur, ok := p.Dests[d.DestKey]; !ok || cur != d {
			return false
		}
		// Two dests of one key would make a smaller map: len(p.Dests)
		// equal to len(dests) then means p has a dest svc has not.
		for _, o := range dests[:i] {
			if destFor(svc.ServiceKey, o).DestKey == d.DestKey {
				return false
			}
		}
	}
	return true
}

// destFor is d as service key holds it: a fwmark service's real servers
// take port 0, DR and TUN ones the service's port.
func destFor(key ServiceKey, d Dest) Dest {
	if key.FWMark != 0 {
		// The kernel matches fwmark services by mark only; real
		// servers take port 0, as keepalived sends them.
		d.Port = 0
	} else if d.Method != NAT || d.Port == 0 {
		// DR and TUN cannot remap ports: a group entry's port applies.
		d.Port = key.Port
	}
	d.DestKey = DestKey{Addr: d.Addr, Port: d.Port}
	return d
}

// desiredDests applies health, inhibit_on_failure, quorum and
// sorry_server. It appends the live real servers to live (a buffer the
// caller reuses, returned as the second result) and returns the dests.
func desiredDests(vs *config.VirtualServer, health healthView, live []Dest) (dests, buf []Dest) {
	var vsKey string
	if health.k != nil && !health.uniform {
		vsKey = vs.Key() // once, not per real server
	}
	aliveWeight := 0
	for _, rs := range vs.RealServers {
		d := dest(rs)
		var up bool
		switch {
		case health.h == nil || health.uniform:
			up = true
		case health.k != nil:
			up = health.k.RealServerUpKey(vsKey, rs)
			if dw, ok := health.k.RealServerWeightKey(vsKey, rs); ok {
				d.Weight = uint32(dw)
			}
		default:
			up = health.h.RealServerUp(vs, rs)
			if health.w != nil {
				if dw, ok := health.w.RealServerWeight(vs, rs); ok {
					d.Weight = uint32(dw)
				}
			}
		}
		switch {
		case up:
			aliveWeight += int(d.Weight)
			live = append(live, d)
		case rs.InhibitOnFailure:
			d.Weight = 0
			live = append(live, d)
		}
	}
	quorumLost := aliveWeight < vs.Quorum
	switch {
	case health.uniform:
		quorumLost = false
	case health.k != nil:
		quorumLost = !health.k.QuorumUpKey(vsKey)
	case health.q != nil:
		quorumLost = !health.q.QuorumUp(vs)
	}
	if vs.SorryServer != nil {
		sorry := dest(vs.SorryServer)
		if quorumLost {
			// keepalived 2.2.7 perform_quorum_state(vs, false) deletes the
			// live real servers, and ipvs_cmd turns the deletion of one
			// with inhibit_on_failure into weight 0; then the sorry server
			// is added (update_quorum_state).
			var out []Dest
			for _, rs := range vs.RealServers {
				if rs.InhibitOnFailure {
					d := dest(rs)
					d.Weight = 0
					out = append(out, d)
				}
			}
			return append(out, sorry), live
		}
		if vs.SorryInhibit {
			// init_service_vs: a sorry server with inhibit is in the
			// table at weight 0 while quorum holds.
			sorry.Weight = 0
			live = append(live, sorry)
		}
	}
	return live, live
}

func dest(rs *config.RealServer) Dest {
	d := Dest{
		DestKey:    DestKey{Addr: rs.Addr, Port: rs.Port},
		Method:     methodOf(rs.Method),
		Weight:     uint32(rs.Weight),
		UThreshold: uint32(rs.UThreshold),
		LThreshold: uint32(rs.LThreshold),
	}
	if d.Method == TUN {
		// keepalived 2.2.7 (libipvs ipvs_nl_fill_dest_attr) sends the
		// tunnel attributes for TUN only; the kernel reports zeros for
		// the others.
		d.Tunnel = Tunnel{Type: uint8(rs.Tunnel.Type), Port: rs.Tunnel.Port, Flags: uint16(rs.Tunnel.Flags)}
	}
	return d
}

// methodOf maps config's forwarding method to the kernel's. config.Method
// has exactly these three values (its zero value is NAT, and config.Load
// gives every real server its virtual server's method when it sets none),
// so the switch is exhaustive; anything else is a bug in config, not a
// default.
func methodOf(m config.Method) Method {
	switch m {
	case config.MethodNAT:
		return NAT
	case config.MethodDR:
		return DR
	case config.MethodTUN:
		return TUN
	}
	panic(fmt.Sprintf("ipvs: config.Method %d is not NAT, DR or TUN", m))
}

// protocolOf is the kernel's protocol number of a virtual server's
// protocol. ProtoNone is a fwmark service's, whose key has no protocol:
// TCP's number, as before (the kernel ignores it for a fwmark).
func protocolOf(p config.Protocol) uint16 {
	switch p {
	case config.ProtoUDP:
		return ProtoUDP
	case config.ProtoSCTP:
		return ProtoSCTP
	case config.ProtoTCP, config.ProtoNone:
		return ProtoTCP
	}
	panic(fmt.Sprintf("ipvs: config.Protocol %d is not TCP, UDP, SCTP or none", p))
}

// serviceKeys expands a virtual server into kernel services: one for an
// address or fwmark, one per address and fwmark of a group.
// ServiceKeys lists the kernel services one virtual server of cfg maps to
// (several for a virtual_server_group).
func ServiceKeys(cfg *config.Config, vs *config.VirtualServer) []ServiceKey {
	groups := map[string]*config.VSGroup{}
	for _, g := range cfg.VSGroups {
		groups[g.Name] = g
	}
	return serviceKeys(vs, groups)
}

func serviceKeys(vs *config.VirtualServer, groups map[string]*config.VSGroup) []ServiceKey {
	proto := protocolOf(vs.Protocol)
	switch {
	case vs.FWMark != 0:
		return []ServiceKey{{FWMark: vs.FWMark, IPv6: fwmarkIPv6(vs)}}
	case vs.Group != "":
		g := groups[vs.Group]
		if g == nil {
			return nil
		}
		var keys []ServiceKey
		for _, e := range g.Entries {
			if e.FWMark != 0 {
				v6 := fwmarkIPv6(vs)
				if e.Family != config.FamilyAny {
					// "fwmark N inet6": the entry's own family.
					v6 = e.Family == config.FamilyInet6
				}
				keys = append(keys, ServiceKey{FWMark: e.FWMark, IPv6: v6})
				continue
			}
			for a := e.First; a.IsValid() && a.Compare(e.Last) <= 0; a = a.Next() {
				keys = append(keys, ServiceKey{IPv6: a.Is6(), Protocol: proto, Addr: a, Port: e.Port})
			}
		}
		return keys
	}
	return []ServiceKey{{IPv6: vs.Addr.Is6(), Protocol: proto, Addr: vs.Addr, Port: vs.Port}}
}

// fwmarkIPv6: a fwmark service's family is its virtual server's
// ip_family, which config.Load resolves as keepalived does when it is not
// written (from the real and sorry servers); FamilyAny (a group whose
// servers are all tunnelled) is IPv4.
func fwmarkIPv6(vs *config.VirtualServer) bool {
	return vs.IPFamily == config.FamilyInet6
}

func serviceFlags(vs *config.VirtualServer) uint32 {
	var f uint32
	if vs.Persistent {
		f |= FlagPersistent
	}
	if vs.OPS {
		f |= FlagOnePacket
	}
	for _, name := range vs.SchedFlags {
		switch name {
		case "flag-1", "sh-fallback", "mh-fallback":
			f |= FlagSched1
		case "flag-2", "sh-port", "mh-port":
			f |= FlagSched2
		case "flag-3":
			f |= FlagSched3
		}
	}
	return f
}

// serviceNetmask always yields a mask: the kernel rejects a service without
// one. Persistence granularity narrows it; the default is a host mask.
// keepalived 2.2.7 programs every entry of a virtual_server_group with a
// host mask whatever the granularity (ipvswrapper.c ipvs_group_range_cmd
// and ipvs_group_cmd set user.netmask to 0xffffffff or 128 after
// ipvs_set_srule set the granularity; 2.4.3 still does); lvsd programs
// the same table.
func serviceNetmask(vs *config.VirtualServer, key ServiceKey) Netmask {
	v6 := key.IPv6
	if vs.Group != "" {
		if v6 {
			return NetmaskFrom(128, 128)
		}
		return NetmaskFrom(32, 32)
	}
	if v6 {
		bits := 128
		if g := vs.Granularity; g.IsValid() {
			bits = maskBits(g)
		}
		return NetmaskFrom(bits, 128)
	}
	if g := vs.Granularity; g.IsValid() && g.Is4() {
		return NetmaskFrom4(g.As4())
	}
	return NetmaskFrom(32, 32)
}

func maskBits(a netip.Addr) int {
	n := 0
	for _, b := range a.AsSlice() {
		for i := 7; i >= 0; i-- {
			if b>>i&1 == 0 {
				return n
			}
			n++
		}
	}
	return n
}
