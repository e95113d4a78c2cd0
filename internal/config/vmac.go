package config

import (
	"fmt"
	"strconv"
	"strings"
)

// VMAC is an instance's use_vmac [NAME] [MAC] and vmac_xmit_base, as
// keepalived 2.2.7's vrrp_vmac_handler and vrrp_vmac_xmit_base_handler
// read them; completeVMAC resolves it into the instance's VMACs.
type VMAC struct {
	// Name is the name given (empty: keepalived's vrrp.VRID, resolved
	// into VMACs[0].Name).
	Name string `json:"name,omitempty"`
	// MAC is the address given (empty: 00:00:5e:00:01:VRID, IPv6
	// 00:00:5e:00:02:VRID). Five octets take the VRID as the sixth.
	MAC string `json:"mac,omitempty"`
	// XmitBase is vmac_xmit_base: adverts go out of the parent
	// interface, the VIPs stay on the VMAC.
	XmitBase bool `json:"vmac_xmit_base,omitempty"`

	enabled      bool // use_vmac was given (vmac_xmit_base alone is not)
	pos, basePos Pos
	macPos       Pos
	macUseVRID   bool
}

// VMACLink is one macvlan (mode private) interface an instance creates:
// its own VMAC (use_vmac, Instance set) or one for virtual addresses on
// other interfaces or of the other family (the use_vmac address option,
// use_vmac_addr).
type VMACLink struct {
	Name   string `json:"name"`
	Parent string `json:"parent"`
	MAC    string `json:"mac"`
	IPv6   bool   `json:"ipv6,omitempty"`
	// Instance: the instance's own VMAC (adverts go out of it unless
	// XmitBase).
	Instance bool `json:"instance,omitempty"`
	XmitBase bool `json:"xmit_base,omitempty"`
	// EnableIPv6 leaves IPv6 on for an IPv4 VMAC (an excluded address of
	// the other family is on it); keepalived sets disable_ipv6 otherwise.
	EnableIPv6 bool `json:"enable_ipv6,omitempty"`
}

// VRRPMAC is RFC 5798's virtual router MAC address.
func VRRPMAC(vrid int, v6 bool) string {
	fam := 1
	if v6 {
		fam = 2
	}
	return fmt.Sprintf("00:00:5e:00:%02x:%02x", fam, vrid&0xff)
}

func (in *Instance) vmac(pos Pos) *VMAC {
	if in.VMAC == nil {
		in.VMAC = &VMAC{pos: pos}
	}
	return in.VMAC
}

// devNameValid is keepalived's dev_name_valid: at most 15 characters,
// no '/', ':' or white space, not "." or "..".
func devNameValid(s string) bool {
	if s == "" || len(s) >= 16 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\v\f")
}

// parseVMACMAC reads keepalived's MAC forms: six octets, or five (with
// or without a trailing ':') taking the VRID as the sixth.
func parseVMACMAC(p string) (mac [6]byte, useVRID bool, ok bool) {
	if strings.Trim(p, "0123456789ABCDEFabcdef:") != "" {
		return mac, false, false
	}
	parts := strings.Split(p, ":")
	if len(parts) == 6 && parts[5] == "" {
		parts = parts[:5]
	}
	if len(parts) != 5 && len(parts) != 6 {
		return mac, false, false
	}
	for i, s := range parts {
		if s == "" || len(s) > 2 {
			return mac, false, false
		}
		v, err := strconv.ParseUint(s, 16, 8)
		if err != nil {
			return mac, false, false
		}
		mac[i] = byte(v)
	}
	return mac, len(parts) == 5, true
}

// useVMAC is vrrp_vmac_handler: up to two arguments, a MAC address (it
// has a ':') or an interface name, in either order.
func useVMAC(b *builder, n *Node, in *Instance) {
	v := in.vmac(n.Pos())
	v.enabled, v.pos = true, n.Pos()
	for i, a := range n.Args {
		if i >= 2 {
			break
		}
		if strings.Contains(a.Text, ":") {
			if v.MAC != "" {
				b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC interface address already specified; %s ignored, as keepalived does", in.Name, a.Text)
				continue
			}
			mac, useVRID, ok := parseVMACMAC(a.Text)
			switch {
			case !ok:
				b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC invalid MAC address %s; ignored, as keepalived does", in.Name, a.Text)
			case mac[0]&1 != 0:
				b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC MAC address %s is multicast; ignored, as keepalived does", in.Name, a.Text)
			case mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2):
				b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC MAC address %s may not be an RFC 5798 address; ignored, as keepalived does", in.Name, a.Text)
			default:
				v.MAC = fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
				v.macUseVRID, v.macPos = useVRID, a.Pos
			}
			continue
		}
		if v.Name != "" {
			b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC interface name already specified; %s ignored, as keepalived does", in.Name, a.Text)
			continue
		}
		if !devNameValid(a.Text) {
			b.d.Skipf(a.Pos, "vrrp_instance %s: VMAC interface name %q too long or invalid characters; ignored, as keepalived does", in.Name, a.Text)
			continue
		}
		v.Name = a.Text
	}
}

func vmacXmitBase(b *builder, n *Node, in *Instance) {
	v := in.vmac(n.Pos())
	v.XmitBase, v.basePos = true, n.Pos()
}

// completeVMAC is the VMAC part of keepalived 2.2.7's
// vrrp_complete_instance: the instance's VMAC name and MAC, strict
// mode's limits, and which virtual addresses go on which VMAC (the
// use_vmac address option and use_vmac_addr), creating the extra VMACs
// keepalived creates for them.
func completeVMAC(c *Config, in *Instance, d *Diagnostics) {
	v6 := in.IPv6()
	used := func(name string) bool {
		for _, o := range c.Instances {
			if o == in {
				continue
			}
			if o.VMAC != nil && o.VMAC.enabled && o.VMAC.Name == name {
				return true
			}
			for _, l := range o.VMACs {
				if l.Name == name {
					return true
				}
			}
		}
		for _, l := range in.VMACs {
			if l.Name == name {
				return true
			}
		}
		return false
	}
	in.VMACs = nil
	if v := in.VMAC; v != nil {
		if !v.enabled {
			d.Skipf(v.basePos, "vrrp_instance %s: vmac_xmit_base is only valid with a vmac; ignored, as keepalived does", in.Name)
			in.VMAC = nil
		} else {
			if in.PromoteSecondaries {
				d.Skipf(in.promotePos, "(%s) promote_secondaries is automatically set for vmacs - ignoring", in.Name)
				in.PromoteSecondaries = false
			}
			if in.StrictMode && v.MAC != "" {
				d.Skipf(v.macPos, "vrrp_instance %s: a VMAC MAC address cannot be given in strict mode; the RFC 5798 address is used, as keepalived does", in.Name)
				v.MAC = ""
			}
			if in.StrictMode && v.XmitBase {
				d.Skipf(v.basePos, "vrrp_instance %s: vmac_xmit_base is incompatible with strict mode; cleared, as keepalived does", in.Name)
				v.XmitBase = false
			}
			if v.Name != "" && namedBefore(c, in, v.Name) {
				d.Skipf(v.pos, "vrrp_instance %s: another instance already uses %s; the name is ignored, as keepalived does", in.Name, v.Name)
				v.Name = ""
			}
			name := v.Name
			if name == "" {
				name = vmacName(in.VRID, v6, used)
			}
			in.VMACs = append(in.VMACs, VMACLink{Name: name, Parent: in.Interface, MAC: vmacMAC(v, in.VRID, v6),
				IPv6: v6, Instance: true, XmitBase: v.XmitBase, EnableIPv6: v6 || otherFamilyEVIP(in, v6)})
		}
	}
	useVMACOn := in.VMAC != nil
	for _, list := range [][]VIP{in.VIPs, in.ExcludedVIPs} {
		for i := range list {
			a := &list[i]
			fam6 := a.Prefix.Addr().Is6()
			own := a.Dev == "" || a.Dev == in.Interface
			useVmac := false
			if a.UseVMAC {
				switch {
				case own && useVMACOn && fam6 == v6:
					d.Skipf(a.Pos, "vrrp_instance %s: use_vmac given for virtual address %s and the instance; the address goes on the instance's VMAC, as keepalived does", in.Name, a.Prefix)
				case (!own || fam6 != v6) && in.UseVMACAddr:
					d.Skipf(a.Pos, "vrrp_instance %s: use_vmac_addr and use_vmac given for virtual address %s; use_vmac_addr puts it on a VMAC, as keepalived does", in.Name, a.Prefix)
				default:
					useVmac = true
				}
			}
			sorted := true
			parent := a.Dev
			if own {
				parent = in.Interface
				if useVMACOn && fam6 == v6 {
					a.Dev = in.VMACs[0].Name
					continue
				}
				if useVmac || in.UseVMACAddr && fam6 != v6 {
					sorted = false
				}
			} else {
				sorted = !(useVmac || in.UseVMACAddr)
			}
			if sorted || parent == "" {
				continue
			}
			a.Dev = addrVMAC(c, in, parent, fam6, used)
		}
	}
}

// namedBefore: an instance before in gave name to use_vmac (keepalived's
// parser checks the instances read so far).
func namedBefore(c *Config, in *Instance, name string) bool {
	for _, o := range c.Instances {
		if o == in {
			return false
		}
		if o.VMAC != nil && o.VMAC.enabled && o.VMAC.Name == name {
			return true
		}
	}
	return false
}

// addrVMAC is the VMAC keepalived puts an address on (if_get_by_vmac: one
// already made for this VRID, family, parent and MAC, else a new one).
func addrVMAC(c *Config, in *Instance, parent string, v6 bool, used func(string) bool) string {
	mac := VRRPMAC(in.VRID, v6)
	if in.VMAC != nil && in.VMAC.MAC != "" {
		mac = vmacMAC(in.VMAC, in.VRID, v6)
	}
	for _, o := range c.Instances {
		if o.VRID != in.VRID {
			continue
		}
		for _, l := range o.VMACs {
			if l.Parent == parent && l.IPv6 == v6 && l.MAC == mac {
				if o != in {
					in.VMACs = append(in.VMACs, l)
					in.VMACs[len(in.VMACs)-1].Instance = false
				}
				return l.Name
			}
		}
	}
	name := vmacName(in.VRID, v6, used)
	in.VMACs = append(in.VMACs, VMACLink{Name: name, Parent: parent, MAC: mac, IPv6: v6, EnableIPv6: v6})
	return name
}

func vmacMAC(v *VMAC, vrid int, v6 bool) string {
	if v.MAC == "" {
		return VRRPMAC(vrid, v6)
	}
	if v.macUseVRID {
		return v.MAC[:15] + fmt.Sprintf("%02x", vrid&0xff)
	}
	return v.MAC
}

// vmacName is keepalived's create_vmac_name with the prefix "vrrp":
// vrrp.VRID, else (IPv6) vrrp6.VRID, then vrrp1.VRID, vrrp2.VRID, ...
// keepalived also passes over names of interfaces that exist; lvsd
// decides the name from the configuration alone.
func vmacName(vrid int, v6 bool, used func(string) bool) string {
	name := fmt.Sprintf("vrrp.%d", vrid)
	num := 0
	for used(name) {
		switch {
		case v6 && num == 0:
			num = 6
		case v6 && num == 6:
			num = 1
		default:
			num++
			if v6 && num == 6 {
				num++
			}
		}
		name = fmt.Sprintf("vrrp%d.%d", num, vrid)
	}
	return name
}

// otherFamilyEVIP is keepalived's VRRP_FLAG_EVIP_OTHER_FAMILY.
func otherFamilyEVIP(in *Instance, v6 bool) bool {
	for _, a := range in.ExcludedVIPs {
		if a.Prefix.Addr().Is6() != v6 {
			return true
		}
	}
	return false
}
