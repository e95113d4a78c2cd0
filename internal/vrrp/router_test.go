package vrrp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/netif"
)

// fakePlatform records what the router does to the machine.
type fakePlatform struct {
	mu      sync.Mutex
	vips    map[string]bool
	links   map[string]bool
	scripts map[string]int // argv[0] -> exit code for track scripts
	ran     []string       // argv of every script run, joined
	sent    []*Advert
	conns   []*fakeConn
}

type fakeConn struct {
	p      *fakePlatform
	in     chan Received
	closed chan struct{}
	once   sync.Once
}

func (c *fakeConn) Read(buf []byte) (Received, error) {
	select {
	case r := <-c.in:
		return r, nil
	case <-c.closed:
		return Received{}, net.ErrClosed
	}
}

func (c *fakeConn) Write(b []byte, src, dst netip.Addr) error {
	a, err := Parse(b, src, dst, false)
	if err != nil {
		return err
	}
	c.p.mu.Lock()
	c.p.sent = append(c.p.sent, a)
	c.p.mu.Unlock()
	return nil
}

func (c *fakeConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

func newFakePlatform() *fakePlatform {
	return &fakePlatform{vips: map[string]bool{}, links: map[string]bool{"eth0": true, "eth1": true}, scripts: map[string]int{}}
}

func (p *fakePlatform) Listen(dev string, v6 bool, group netip.Addr, ttl int) (Conn, error) {
	c := &fakeConn{p: p, in: make(chan Received, 16), closed: make(chan struct{})}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c, nil
}
func (p *fakePlatform) AddVIP(v netif.VIP) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vips[v.Prefix.String()] = true
	return nil
}
func (p *fakePlatform) DelVIP(v netif.VIP) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.vips, v.Prefix.String())
	return nil
}
func (p *fakePlatform) GARP(string, netip.Addr) error { return nil }
func (p *fakePlatform) PrimaryAddr(dev string, v6 bool) (netip.Addr, error) {
	return netip.MustParseAddr("10.0.0.2"), nil
}
func (p *fakePlatform) LinkUp(dev string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	up, ok := p.links[dev]
	if !ok {
		return false, errors.New("no such link")
	}
	return up, nil
}
func (p *fakePlatform) WatchLinks(done <-chan struct{}, fn func(string)) error { return nil }
func (p *fakePlatform) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ran = append(p.ran, strings.Join(append(slices.Clone(s.Argv), args...), " "))
	return p.scripts[s.Argv[0]], nil
}

func (p *fakePlatform) hasVIP(v string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.vips[v]
}

func (p *fakePlatform) ranScript(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.ran, s)
}

func (p *fakePlatform) lastAdvertPriority(vrid uint8) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.sent) - 1; i >= 0; i-- {
		if p.sent[i].VRID == vrid {
			return int(p.sent[i].Priority)
		}
	}
	return -1
}

func startRouter(t *testing.T, src string, p *fakePlatform) *Router {
	t.Helper()
	r, err := NewRouter(labtest.Config(t, src), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	return r
}

const routerConf = `
vrrp_script chk_app {
  script "/usr/local/bin/chk_app"
  interval 0.05
  weight -30
  fall 2
  rise 1
}
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_script {
    chk_app
  }
  notify_master "/usr/local/bin/became master"
  notify /usr/local/bin/notify
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_B {
  interface eth1
  virtual_router_id 2
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`

func TestRouterTrackingSyncGroupAndNotify(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, routerConf, p)
	labtest.WaitFor(t, "both instances master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") && p.hasVIP("10.1.0.100/24") })
	labtest.WaitFor(t, "notify_master ran", 3*time.Second, func() bool { return p.ranScript("/usr/local/bin/became master") })
	labtest.WaitFor(t, "notify ran with keepalived's arguments", 3*time.Second, func() bool { return p.ranScript("/usr/local/bin/notify INSTANCE VI_A MASTER 100") })

	// The track script fails twice (fall 2): priority 100 - 30 in adverts.
	p.mu.Lock()
	p.scripts["/usr/local/bin/chk_app"] = 1
	p.mu.Unlock()
	labtest.WaitFor(t, "priority drops by the script's weight", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 70 })
	if st := r.Status(); st[0].Priority != 70 || st[0].BasePriority != 100 {
		t.Errorf("status after the script failed: %+v", st[0])
	}
	p.mu.Lock()
	p.scripts["/usr/local/bin/chk_app"] = 0
	p.mu.Unlock()
	labtest.WaitFor(t, "priority back after rise 1", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 100 })

	// eth1 goes down: VI_B faults, and its sync group takes VI_A along.
	p.mu.Lock()
	p.links["eth1"] = false
	p.mu.Unlock()
	labtest.WaitFor(t, "VI_B and VI_A in FAULT, VIPs gone", 3*time.Second, func() bool {
		st := r.Status()
		return st[0].State == "FAULT" && st[1].State == "FAULT" && !p.hasVIP("10.0.0.100/24") && !p.hasVIP("10.1.0.100/24")
	})
	if p.lastAdvertPriority(1) != 0 {
		t.Errorf("VI_A left MASTER for FAULT without a priority 0 advert (last %d)", p.lastAdvertPriority(1))
	}
}

func TestRouterDropsBadAdverts(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, routerConf, p)
	labtest.WaitFor(t, "sockets open", 3*time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 2 })
	adv := &Advert{Version: 3, VRID: 1, Priority: 200, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	peer, group := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("224.0.0.18")
	b, _ := adv.Marshal(peer, group)
	p.conns[0].in <- Received{Payload: b, Src: peer, Dst: group, TTL: 64} // TTL must be 255
	bad := append([]byte{}, b...)
	bad[6] ^= 0xff
	p.conns[0].in <- Received{Payload: bad, Src: peer, Dst: group, TTL: 255}
	p.conns[0].in <- Received{Payload: b, Src: netip.MustParseAddr("10.0.0.2"), Dst: group, TTL: 255} // our own
	otherVRID := &Advert{Version: 3, VRID: 77, Priority: 100, Interval: time.Second, Addrs: adv.Addrs}
	ob, _ := otherVRID.Marshal(peer, group)
	p.conns[0].in <- Received{Payload: ob, Src: peer, Dst: group, TTL: 255}
	labtest.WaitFor(t, "drops counted by reason", 3*time.Second, func() bool {
		d := r.Status()[0].Stats.Drops
		return d[DropTTL] == 1 && d[DropChecksum] == 1 && d[DropOwn] == 1 && d[DropVRID] == 1
	})
	// A good higher-priority advert keeps VI_A backup.
	for range 10 {
		p.conns[0].in <- Received{Payload: b, Src: peer, Dst: group, TTL: 255}
		time.Sleep(20 * time.Millisecond)
	}
	if st := r.Status()[0]; st.State != "BACKUP" || st.MasterAddr != "10.0.0.9" || st.MasterPriority != 200 {
		t.Errorf("after a higher priority master: %+v", st)
	}
}
