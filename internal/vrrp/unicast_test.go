package vrrp

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// startLoggedRouter runs a router on a fake platform with conf; it returns the
// router, the platform and the log.
func startLoggedRouter(t *testing.T, conf string) (*Router, *fakePlatform, *labtest.LogBuffer) {
	t.Helper()
	p := newFakePlatform()
	logs := &labtest.LogBuffer{}
	r, err := NewRouter(labtest.Config(t, conf), p, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	labtest.WaitFor(t, "sockets open", time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 1 })
	return r, p, logs
}

// feed hands the router's socket a VRRPv3 advert (VRID 1, 50 ms) from
// src to dst listing addrs.
func feed(p *fakePlatform, src, dst string, prio uint8, addrs ...string) {
	adv := &Advert{Version: 3, VRID: 1, Priority: prio, Interval: 50 * time.Millisecond}
	for _, a := range addrs {
		adv.Addrs = append(adv.Addrs, netip.MustParseAddr(a))
	}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	b, _ := adv.Marshal(s, d)
	p.mu.Lock()
	c := p.conns[0]
	p.mu.Unlock()
	c.in <- Received{Payload: b, Src: s, Dst: d, TTL: 255}
}

// TestRouterCheckUnicastSrc: with check_unicast_src (the instance's or
// global_defs' vrrp_check_unicast_src) a unicast instance drops an advert
// from a source that is none of its peers, and logs it, as keepalived
// 2.2.7's vrrp_check_packet; a peer's advert is obeyed. Without it the
// stranger is obeyed.
func TestRouterCheckUnicastSrc(t *testing.T) {
	peers := "  unicast_peer {\n    10.0.0.9\n  }\n"
	for _, tc := range []struct {
		name, global, extra string
		checks              bool
	}{
		{"instance", "", "  check_unicast_src\n", true},
		{"global", "global_defs {\n  vrrp_check_unicast_src\n}\n", "", true},
		{"without", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, p, logs := startLoggedRouter(t, tc.global+fastInstance("VI_A", 1, "10.0.0.100", peers+tc.extra))
			labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
			feed(p, "10.0.0.7", "10.0.0.2", 200, "10.0.0.100")
			if !tc.checks {
				labtest.WaitFor(t, "backup to the stranger", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
				return
			}
			labtest.WaitFor(t, "the stranger dropped", time.Second, func() bool { return r.Status()[0].Stats.Drops[DropNotPeer] == 1 })
			if st := r.Status()[0].State; st != "MASTER" {
				t.Errorf("state %s after a stranger's advert, want MASTER", st)
			}
			if want := `msg="vrrp advert dropped: unicast source address not a unicast peer" instance=VI_A from=10.0.0.7`; !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
			feed(p, "10.0.0.9", "10.0.0.2", 200, "10.0.0.100")
			labtest.WaitFor(t, "backup to the peer", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
		})
	}
}

// TestRouterSkipCheckAdvAddr: with skip_check_adv_addr (or global_defs'
// vrrp_skip_check_adv_addr before the instance) a BACKUP takes the
// adverts of the master it last heard whatever addresses they list,
// while another sender's are still checked; without it the master's
// wrong list is dropped and the BACKUP takes over.
func TestRouterSkipCheckAdvAddr(t *testing.T) {
	for _, tc := range []struct {
		name, global, extra string
		skips               bool
	}{
		{"instance", "", "  skip_check_adv_addr\n", true},
		{"global", "global_defs {\n  vrrp_skip_check_adv_addr\n}\n", "", true},
		{"false still skips (keepalived 2.2.7)", "", "  skip_check_adv_addr false\n", true},
		{"without", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, p, _ := startLoggedRouter(t, tc.global+fastInstance("VI_A", 1, "10.0.0.100", tc.extra))
			feed(p, "10.0.0.9", "224.0.0.18", 200, "10.0.0.100")
			labtest.WaitFor(t, "the master's advert taken", time.Second, func() bool { return r.Status()[0].Stats.AdvertsReceived == 1 })
			for range 12 {
				feed(p, "10.0.0.9", "224.0.0.18", 200, "10.0.0.99")
				feed(p, "10.0.0.8", "224.0.0.18", 200, "10.0.0.99")
				time.Sleep(40 * time.Millisecond)
			}
			st := r.Status()[0]
			wantDrops, wantState := uint64(12), "BACKUP"
			if !tc.skips {
				wantDrops, wantState = 24, "MASTER"
			}
			if st.Stats.Drops[DropAddrMismatch] != wantDrops || st.State != wantState {
				t.Errorf("%d adverts dropped for their addresses, state %s; want %d, %s", st.Stats.Drops[DropAddrMismatch], st.State, wantDrops, wantState)
			}
		})
	}
}

// TestRouterUnicastFaultNoPeer: unicast_fault_no_peer on an instance
// without peers holds it in FAULT (keepalived's num_config_faults): no
// advert, no VIP, whatever it hears.
func TestRouterUnicastFaultNoPeer(t *testing.T) {
	r, p, _ := startLoggedRouter(t, fastInstance("VI_A", 1, "10.0.0.100", "  unicast_src_ip 10.0.0.2\n  unicast_peer {\n  }\n  unicast_fault_no_peer\n"))
	time.Sleep(500 * time.Millisecond)
	if st := r.Status()[0]; st.State != "FAULT" || st.Stats.AdvertsSent != 0 || p.hasVIP("10.0.0.100/32") {
		t.Errorf("state %s, %d adverts sent, VIP %v; want FAULT, none, none", st.State, st.Stats.AdvertsSent, p.hasVIP("10.0.0.100/32"))
	}
}

// TestRouterMcastDstIP: with mcast_dst_ip the instance's socket is on
// that group, its adverts go there, and an advert sent to another group
// is ignored (keepalived binds its socket to the group) while one to its
// own is obeyed.
func TestRouterMcastDstIP(t *testing.T) {
	r, p, _ := startLoggedRouter(t, fastInstance("VI_A", 1, "10.0.0.100", "  mcast_dst_ip 224.0.0.19\n"))
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	feed(p, "10.0.0.9", "224.0.0.18", 200, "10.0.0.100")
	time.Sleep(100 * time.Millisecond)
	if st := r.Status()[0]; st.State != "MASTER" || st.Stats.AdvertsReceived != 0 {
		t.Errorf("after an advert to 224.0.0.18: %s, %d received; want MASTER, none", st.State, st.Stats.AdvertsReceived)
	}
	feed(p, "10.0.0.9", "224.0.0.19", 200, "10.0.0.100")
	labtest.WaitFor(t, "backup to an advert on its group", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.conns[0].group; g != netip.MustParseAddr("224.0.0.19") {
		t.Errorf("socket on group %s, want 224.0.0.19", g)
	}
}

// TestRouterPeerTTL: a unicast peer's min_ttl/max_ttl (which turn
// check_unicast_src on) drop its adverts received with a TTL outside the
// range, and log them, as keepalived 2.2.7's vrrp_check_packet.
func TestRouterPeerTTL(t *testing.T) {
	r, p, logs := startLoggedRouter(t, fastInstance("VI_A", 1, "10.0.0.100", "  unicast_peer {\n    10.0.0.9 min_ttl 200 max_ttl 254\n  }\n"))
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	send := func(ttl int) {
		adv := &Advert{Version: 3, VRID: 1, Priority: 200, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
		s, d := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.2")
		b, _ := adv.Marshal(s, d)
		p.mu.Lock()
		c := p.conns[0]
		p.mu.Unlock()
		c.in <- Received{Payload: b, Src: s, Dst: d, TTL: ttl}
	}
	send(255)
	labtest.WaitFor(t, "the TTL 255 advert dropped", time.Second, func() bool { return r.Status()[0].Stats.Drops[DropTTL] == 1 })
	if st := r.Status()[0].State; st != "MASTER" {
		t.Errorf("state %s after an advert outside the TTL range, want MASTER", st)
	}
	if want := "TTL/HL 255 not in range 200 - 254"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
	send(254)
	labtest.WaitFor(t, "backup to the TTL 254 advert", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
}
