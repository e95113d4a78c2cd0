package vrrp

import (
	"net/netip"
	"slices"
	"time"
)

// Acceptance is what an instance demands of the adverts it hears, as
// keepalived checks them before the state machine sees them.
type Acceptance struct {
	Version  int
	Interval time.Duration // VRRPv2 drops adverts with another interval
	AuthType uint8
	AuthData [8]byte
	// VIPs are the instance's addresses of its family; an advert that
	// lists others (or misses some) is dropped unless the list is empty.
	VIPs []netip.Addr
	// CheckSrc (check_unicast_src on a unicast instance): an advert whose
	// source is none of Peers is dropped.
	CheckSrc bool
	Peers    []netip.Addr
	// PeerTTLs: with CheckSrc, a peer's adverts must arrive with a TTL
	// (hop limit) in its [min_ttl, max_ttl].
	PeerTTLs map[netip.Addr][2]int
}

// Check applies the acceptance rules. ttl is the received IP TTL (hop
// limit); multicast says the packet came to the VRRP group, where RFC 3768
// and 5798 demand TTL 255. from is the sender; checkAddrs false skips the
// address checks and the source check (skip_check_adv_addr: a BACKUP
// hearing the master it last heard), as vrrp_check_packet's check_vip_addr.
func (acc *Acceptance) Check(a *Advert, ttl int, multicast bool, from netip.Addr, checkAddrs bool) error {
	if multicast && ttl != 255 {
		return drop(DropTTL, "TTL %d, want 255", ttl)
	}
	if a.Version != acc.Version {
		return drop(DropVersion, "version %d, instance runs %d", a.Version, acc.Version)
	}
	if a.Version == 3 && a.Interval == 0 {
		// No VRRPv3 router can advertise every 0 s (keepalived rounds a
		// configured interval up to 10 ms). Obeyed, it would make the
		// master-down interval the skew alone: a forger could flip the
		// instance between MASTER and BACKUP on every advert.
		return drop(DropInterval, "VRRPv3 advert interval 0")
	}
	if a.Version == 2 {
		if a.AuthType != acc.AuthType {
			return drop(DropAuthType, "auth type %d, want %d", a.AuthType, acc.AuthType)
		}
		if a.AuthType == AuthPass && a.AuthData != acc.AuthData {
			return drop(DropAuthPass, "password does not match")
		}
		if a.Interval != acc.Interval {
			return drop(DropInterval, "advert interval %s, want %s", a.Interval, acc.Interval)
		}
	}
	// A priority 0 advert comes from a leaving master; keepalived accepts
	// it whatever addresses it lists.
	if !checkAddrs {
		return nil
	}
	if a.Priority != 0 && len(a.Addrs) > 0 {
		if len(a.Addrs) != len(acc.VIPs) {
			return drop(DropAddrMismatch, "%d addresses, want %d", len(a.Addrs), len(acc.VIPs))
		}
		for _, ip := range a.Addrs {
			if !slices.Contains(acc.VIPs, ip) {
				return drop(DropAddrMismatch, "%s is not a virtual address of this instance", ip)
			}
		}
	}
	if acc.CheckSrc && !slices.Contains(acc.Peers, from.WithZone("")) {
		return drop(DropNotPeer, "unicast source address %s not a unicast peer", from.WithZone(""))
	}
	if r, ok := acc.PeerTTLs[from.WithZone("")]; ok && acc.CheckSrc && (ttl < r[0] || ttl > r[1]) {
		return drop(DropTTL, "TTL/HL %d not in range %d - %d", ttl, r[0], r[1])
	}
	return nil
}
