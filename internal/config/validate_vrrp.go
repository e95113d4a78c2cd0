package config

import (
	"net/netip"
	"time"
)

func validateInstances(c *Config, d *Diagnostics) {
	scripts := map[string]bool{}
	for _, s := range c.Scripts {
		if scripts[s.Name] {
			d.Errorf(s.Pos, "vrrp_script %s is defined twice", s.Name)
		}
		scripts[s.Name] = true
	}
	type vridKey struct {
		iface string
		vrid  int
		v6    bool
	}
	vrids := map[vridKey]string{}
	names := map[string]bool{}
	vipOwner := map[netip.Addr]string{}
	for _, in := range c.Instances {
		if names[in.Name] {
			d.Errorf(in.Pos, "vrrp_instance %s is defined twice", in.Name)
		}
		names[in.Name] = true
		if in.Interface == "" {
			d.Errorf(in.Pos, "vrrp_instance %s has no interface", in.Name)
		}
		if in.VRID == 0 {
			if in.vridPos.Line == 0 {
				d.Errorf(in.Pos, "vrrp_instance %s has no virtual_router_id", in.Name)
			}
		} else {
			k := vridKey{in.Interface, in.VRID, in.IPv6()}
			if other, dup := vrids[k]; dup {
				d.Errorf(in.vridPos, "virtual_router_id %d on %s is already used by vrrp_instance %s", in.VRID, in.Interface, other)
			} else {
				vrids[k] = in.Name
			}
		}
		if in.Priority == 255 {
			d.Warnf(in.priorityPos, "vrrp_instance %s: priority 255 is reserved for the owner of the virtual addresses (it must hold them as real addresses); check-config --host verifies it", in.Name)
		}
		validateAdvertInt(in, d)
		validateAuth(in, d)
		family := 0
		for _, v := range in.VIPs {
			f := 4
			if v.Prefix.Addr().Is6() {
				f = 6
			}
			if family == 0 {
				family = f
			} else if f != family {
				d.Errorf(v.Pos, "vrrp_instance %s mixes IPv4 and IPv6 virtual addresses; use virtual_ipaddress_excluded or a second instance", in.Name)
			}
			if v.Prefix.Addr().IsMulticast() || v.Prefix.Addr().IsUnspecified() {
				d.Errorf(v.Pos, "virtual address %s is not a unicast address", v.Prefix.Addr())
			}
			if owner, dup := vipOwner[v.Prefix.Addr()]; dup {
				d.Warnf(v.Pos, "virtual address %s is also configured in vrrp_instance %s", v.Prefix.Addr(), owner)
			} else {
				vipOwner[v.Prefix.Addr()] = in.Name
			}
		}
		if len(in.VIPs) == 0 && len(in.ExcludedVIPs) == 0 {
			d.Warnf(in.Pos, "vrrp_instance %s has no virtual_ipaddress", in.Name)
		}
		if family != 0 {
			checkFamily := func(what string, a netip.Addr, pos Pos) {
				if a.IsValid() && (a.Is6() != (family == 6)) {
					d.Errorf(pos, "vrrp_instance %s: %s %s is not the same address family as its virtual addresses", in.Name, what, a)
				}
			}
			checkFamily("mcast_src_ip", in.McastSrcIP, in.Pos)
			checkFamily("unicast_src_ip", in.UnicastSrcIP, in.Pos)
			for _, p := range in.UnicastPeers {
				checkFamily("unicast_peer", p, in.Pos)
			}
		}
		if in.UnicastSrcIP.IsValid() && len(in.UnicastPeers) == 0 {
			d.Warnf(in.Pos, "vrrp_instance %s sets unicast_src_ip but has no unicast_peer; adverts go to multicast", in.Name)
		}
		for _, t := range in.TrackScripts {
			if !scripts[t.Name] {
				d.Errorf(t.Pos, "vrrp_instance %s tracks vrrp_script %s, which is not defined", in.Name, t.Name)
			}
		}
	}
}

func validateAdvertInt(in *Instance, d *Diagnostics) {
	pos := in.advertPos
	if pos.Line == 0 {
		pos = in.Pos
	}
	a := in.AdvertInterval
	if in.Version == 3 {
		if a < 10*time.Millisecond || a > 40950*time.Millisecond {
			d.Errorf(pos, "vrrp_instance %s: advert_int %s is outside VRRPv3's 0.01..40.95 seconds", in.Name, a)
		} else if a%(10*time.Millisecond) != 0 {
			d.Warnf(pos, "vrrp_instance %s: advert_int %s is rounded to centiseconds in VRRPv3", in.Name, a)
		}
		return
	}
	if a < time.Second || a > 255*time.Second {
		d.Errorf(pos, "vrrp_instance %s: advert_int %s is outside VRRPv2's 1..255 seconds (use version 3 for shorter intervals)", in.Name, a)
	} else if a%time.Second != 0 {
		d.Errorf(pos, "vrrp_instance %s: advert_int %s must be whole seconds in VRRPv2 (use version 3 for fractions)", in.Name, a)
	}
}

func validateAuth(in *Instance, d *Diagnostics) {
	if in.AuthType == "" {
		if in.AuthPass != "" {
			d.Warnf(in.authPassPos, "vrrp_instance %s: auth_pass without auth_type is ignored", in.Name)
		}
		return
	}
	if in.Version == 3 {
		d.Warnf(in.Pos, "vrrp_instance %s: VRRPv3 has no authentication (RFC 5798); authentication is ignored", in.Name)
		in.AuthType, in.AuthPass = "", ""
		return
	}
	if in.AuthType == "AH" {
		d.Errorf(in.Pos, "vrrp_instance %s: auth_type AH is not supported by lvsd (RFC 3768 removed it; use PASS or none)", in.Name)
		return
	}
	if in.AuthPass == "" {
		d.Errorf(in.Pos, "vrrp_instance %s: auth_type PASS needs an auth_pass", in.Name)
		return
	}
	if len(in.AuthPass) > 8 {
		d.Warnf(in.authPassPos, "vrrp_instance %s: auth_pass is longer than 8 characters; only %q is sent, as keepalived does", in.Name, in.AuthPass[:8])
		in.AuthPass = in.AuthPass[:8]
	}
}

func validateSyncGroups(c *Config, d *Diagnostics) {
	instances := map[string]*Instance{}
	for _, in := range c.Instances {
		instances[in.Name] = in
	}
	member := map[string]string{}
	scripts := map[string]bool{}
	for _, s := range c.Scripts {
		scripts[s.Name] = true
	}
	for _, g := range c.SyncGroups {
		for i, m := range g.Members {
			if _, ok := instances[m]; !ok {
				d.Errorf(g.MemberPos[i], "vrrp_sync_group %s: vrrp_instance %s is not defined", g.Name, m)
				continue
			}
			if other, dup := member[m]; dup {
				d.Errorf(g.MemberPos[i], "vrrp_instance %s is already in vrrp_sync_group %s", m, other)
				continue
			}
			member[m] = g.Name
		}
		if len(g.Members) == 1 {
			d.Warnf(g.Pos, "vrrp_sync_group %s has only one member", g.Name)
		}
		for _, t := range g.TrackScripts {
			if !scripts[t.Name] {
				d.Errorf(t.Pos, "vrrp_sync_group %s tracks vrrp_script %s, which is not defined", g.Name, t.Name)
			}
		}
	}
}
