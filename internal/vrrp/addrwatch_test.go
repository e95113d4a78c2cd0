package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

var addrWatchConf = `
static_ipaddress {
  10.5.0.1/24 dev eth1
  10.5.0.2/24 dev eth1 no_track
}
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
}
` + fastInstance("VI_A", 1, "10.0.0.100/24\n    10.0.0.101/24 no_track", "") + fastInstance("VI_B", 2, "10.0.0.200/24", "")

// Addresses deleted behind the router's back, as keepalived 2.2.7's
// netlink reflector handles them: a MASTER's VIP makes it and its sync
// group leave MASTER with a priority 0 advert and come back after the
// skew time with every VIP; a no_track VIP is left deleted; a static
// address is added again unless no_track.
func TestRouterAddressDeletedByHand(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, addrWatchConf, p)
	both := func(s string) bool { st := r.Status(); return st[0].State == s && st[1].State == s }
	waitAll(t, r, "MASTER")
	labtest.WaitFor(t, "address watch", time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.addrDeleted != nil })
	for _, a := range []string{"10.5.0.1/24", "10.5.0.2/24"} {
		if !p.hasVIP(a) {
			t.Fatalf("static address %s not added", a)
		}
	}

	p.deleteByHand("eth0", "10.0.0.101/24")
	time.Sleep(200 * time.Millisecond)
	if !both("MASTER") || p.hasVIP("10.0.0.101/24") {
		t.Errorf("a no_track VIP deleted by hand: states %s %s, VIP back %v; want MASTER, MASTER and still deleted",
			r.Status()[0].State, r.Status()[1].State, p.hasVIP("10.0.0.101/24"))
	}

	before := r.Status()
	p.deleteByHand("eth0", "10.0.0.100/24")
	labtest.WaitFor(t, "both MASTER again with their VIPs", 3*time.Second, func() bool {
		return both("MASTER") && p.hasVIP("10.0.0.100/24") && p.hasVIP("10.0.0.101/24") && p.hasVIP("10.0.0.200/24")
	})
	for i, st := range r.Status() {
		if st.Stats.ReleaseMaster != before[i].Stats.ReleaseMaster+1 || st.Stats.BecomeMaster != before[i].Stats.BecomeMaster+1 ||
			st.Stats.PriorityZeroSent != before[i].Stats.PriorityZeroSent+1 {
			t.Errorf("%s: release_master %d→%d, become_master %d→%d, pri_zero_sent %d→%d; want each one more", st.Name,
				before[i].Stats.ReleaseMaster, st.Stats.ReleaseMaster, before[i].Stats.BecomeMaster, st.Stats.BecomeMaster,
				before[i].Stats.PriorityZeroSent, st.Stats.PriorityZeroSent)
		}
	}

	p.deleteByHand("eth1", "10.5.0.1/24")
	labtest.WaitFor(t, "static address restored", time.Second, func() bool { return p.hasVIP("10.5.0.1/24") })
	p.deleteByHand("eth1", "10.5.0.2/24")
	time.Sleep(100 * time.Millisecond)
	if p.hasVIP("10.5.0.2/24") {
		t.Error("a no_track static address was restored")
	}
	// A deletion reported while the address is back (lvsd's own, on a
	// quick turn) changes nothing.
	before = r.Status()
	p.mu.Lock()
	fn := p.addrDeleted
	p.mu.Unlock()
	fn("eth0", netip.MustParseAddr("10.0.0.100"))
	time.Sleep(200 * time.Millisecond)
	if st := r.Status(); st[0].State != "MASTER" || st[0].Stats.ReleaseMaster != before[0].Stats.ReleaseMaster {
		t.Errorf("a deletion of a VIP that is present: %s, release_master %d→%d; want MASTER, unchanged",
			st[0].State, before[0].Stats.ReleaseMaster, st[0].Stats.ReleaseMaster)
	}
}
