package config

import (
	"net/netip"
)

func validateVirtualServers(c *Config, d *Diagnostics) {
	groups := map[string]*VSGroup{}
	for _, g := range c.VSGroups {
		if _, dup := groups[g.Name]; dup {
			d.Errorf(g.Pos, "virtual_server_group %s is defined twice", g.Name)
		}
		groups[g.Name] = g
		if len(g.Entries) == 0 {
			d.Warnf(g.Pos, "virtual_server_group %s is empty", g.Name)
		}
	}
	seen := map[string]Pos{}
	for _, vs := range c.VirtualServers {
		key := vs.Key()
		if vs.FWMark != 0 || vs.Group != "" {
			key += "/" + vs.Protocol
		}
		if first, dup := seen[key]; dup {
			d.Errorf(vs.Pos, "virtual_server %s is already defined at %s", vs.Key(), first)
		} else {
			seen[key] = vs.Pos
		}
		if vs.Group != "" {
			if _, ok := groups[vs.Group]; !ok {
				d.Errorf(vs.Pos, "virtual_server group %s: virtual_server_group %s is not defined", vs.Group, vs.Group)
			}
		}
		if vs.Addr.IsValid() && vs.Port == 0 && !vs.Persistent {
			d.Errorf(vs.Pos, "virtual_server %s has port 0, which the kernel only accepts for persistent services", vs.Key())
		}
		for _, f := range vs.SchedFlags {
			ok := (f == "sh-port" || f == "sh-fallback") && vs.Scheduler == "sh" ||
				(f == "mh-port" || f == "mh-fallback") && vs.Scheduler == "mh" ||
				f == "flag-1" || f == "flag-2" || f == "flag-3"
			if !ok {
				d.Warnf(vs.Pos, "virtual_server %s: %s has no effect with scheduler %s", vs.Key(), f, vs.Scheduler)
			}
		}
		if vs.Granularity.IsValid() {
			if !isNetmask(vs.Granularity) {
				d.Errorf(vs.Pos, "virtual_server %s: persistence_granularity %s is not a contiguous netmask", vs.Key(), vs.Granularity)
			}
		}
		if vs.FWMark != 0 && vs.protocolPos.Line != 0 {
			d.Warnf(vs.protocolPos, "virtual_server %s: protocol has no effect on a fwmark service (the mark selects the packets); keepalived ignores it too", vs.Key())
		}
		if vs.OPS && vs.Protocol != "UDP" {
			d.Warnf(vs.Pos, "virtual_server %s: ops only applies to UDP services", vs.Key())
		}
		vsV6 := vs.Addr.IsValid() && vs.Addr.Is6()
		rsSeen := map[netip.AddrPort]Pos{}
		all := vs.RealServers
		for _, rs := range all {
			validateRealServer(vs, rs, vsV6, d)
			k := netip.AddrPortFrom(rs.Addr, rs.Port)
			if first, dup := rsSeen[k]; dup {
				d.Errorf(rs.Pos, "real_server %s is already in virtual_server %s at line %d", k, vs.Key(), first.Line)
			} else {
				rsSeen[k] = rs.Pos
			}
		}
		if vs.SorryServer != nil {
			validateRealServer(vs, vs.SorryServer, vsV6, d)
		}
	}
}

func validateRealServer(vs *VirtualServer, rs *RealServer, vsV6 bool, d *Diagnostics) {
	if vs.Addr.IsValid() && rs.Addr.Is6() != vsV6 && rs.Method != "TUN" {
		d.Errorf(rs.Pos, "real_server %s is not the same address family as virtual_server %s (only TUN may mix)", rs.Addr, vs.Key())
	}
	if vs.FWMark != 0 && rs.portGiven && rs.Port != 0 {
		d.Warnf(rs.Pos, "real_server %s has port %d but virtual_server %s is a fwmark service: the kernel uses port 0 (keepalived clears it); checkers still use it", rs.Addr, rs.Port, vs.Key())
	}
	if (rs.Method == "DR" || rs.Method == "TUN") && vs.FWMark == 0 && vs.Group == "" && rs.portGiven && rs.Port != vs.Port {
		d.Errorf(rs.Pos, "real_server %s port %d differs from virtual_server port %d, but %s cannot remap ports (only NAT can)", rs.Addr, rs.Port, vs.Port, rs.Method)
	}
	if rs.UThreshold != 0 && rs.LThreshold > rs.UThreshold {
		d.Errorf(rs.Pos, "real_server %s: lthreshold %d is above uthreshold %d", rs.Addr, rs.LThreshold, rs.UThreshold)
	}
	for _, ch := range rs.Checkers {
		if ch.ConnectPort == 0 && ch.Type != "MISC_CHECK" {
			d.Errorf(ch.Pos, "%s for real_server %s has no port to connect to (set connect_port)", ch.Type, rs.Addr)
		}
		if ch.ConnectTimeout == 0 && ch.Type != "MISC_CHECK" {
			d.Errorf(ch.Pos, "%s for real_server %s has connect_timeout 0", ch.Type, rs.Addr)
		}
	}
}

func isNetmask(a netip.Addr) bool {
	b := a.AsSlice()
	seenZero := false
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			bit := x>>i&1 == 1
			if bit && seenZero {
				return false
			}
			if !bit {
				seenZero = true
			}
		}
	}
	return true
}
