package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// Two unicast instances share VRID 7 on eth0 with different peers, as
// keepalived 2.2.7 allows: an advert from a peer reaches only the instance
// that has it as a peer, and one from neither peer is a VRID drop.
func TestRouterUnicastSharedVRID(t *testing.T) {
	const conf = `
vrrp_instance A {
  interface eth0
  virtual_router_id 7
  priority 100
  version 3
  advert_int 0.05
  unicast_peer {
    10.0.0.8
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 7
  priority 100
  version 3
  advert_int 0.05
  unicast_peer {
    10.0.0.9
  }
  virtual_ipaddress {
    10.0.0.101/24
  }
}
`
	p := newFakePlatform()
	r := startRouter(t, conf, p)
	labtest.WaitFor(t, "socket open", 3*time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 1 })
	us := netip.MustParseAddr("10.0.0.2")
	send := func(from string, addr string) {
		adv := &Advert{Version: 3, VRID: 7, Priority: 200, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr(addr)}}
		src := netip.MustParseAddr(from)
		b, _ := adv.Marshal(src, us)
		p.conns[0].in <- Received{Payload: b, Src: src, Dst: us, TTL: 255}
	}
	for range 20 {
		send("10.0.0.9", "10.0.0.101")
		send("10.0.0.5", "10.0.0.101")
		time.Sleep(20 * time.Millisecond)
	}
	labtest.WaitFor(t, "A master, B backup to 10.0.0.9", 3*time.Second, func() bool {
		st := r.Status()
		return st[0].State == "MASTER" && st[1].State == "BACKUP" && st[1].MasterAddr == "10.0.0.9"
	})
	st := r.Status()
	if st[0].Stats.AdvertsReceived != 0 || st[1].Stats.AdvertsReceived == 0 {
		t.Errorf("adverts received: A %d (want 0), B %d", st[0].Stats.AdvertsReceived, st[1].Stats.AdvertsReceived)
	}
	if st[0].Stats.Drops[DropVRID] == 0 {
		t.Error("an advert from neither peer was not counted as an unknown VRID")
	}
}

// keepalived 2.2.7 takes over at once only as the address owner with
// state MASTER; priority 255 with state BACKUP waits the master-down
// interval like any backup.
func TestOwnerWaitsWithStateBackup(t *testing.T) {
	conf := func(state string) string {
		return `
vrrp_instance A {
  interface eth0
  state ` + state + `
  virtual_router_id 7
  priority 255
  version 3
  advert_int 1
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`
	}
	for _, c := range []struct {
		state  string
		atOnce bool
	}{{"MASTER", true}, {"BACKUP", false}} {
		p := newFakePlatform()
		start := time.Now()
		startRouter(t, conf(c.state), p)
		labtest.WaitFor(t, "master", 10*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
		took := time.Since(start)
		// master-down: 3 s + skew (1 s x 1/256); a loaded machine may
		// start the router late, never early.
		if c.atOnce && took > 2*time.Second || !c.atOnce && took < 2900*time.Millisecond {
			t.Errorf("state %s, priority 255: master after %s", c.state, took)
		}
	}
}
