package vrrp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/netif"
	"github.com/lvsd/lvsd/internal/script"
)

// fakePlatform records what the router does to the machine.
type fakePlatform struct {
	mu      sync.Mutex
	vips    map[string]bool
	links   map[string]bool
	scripts map[string]int           // argv[0] -> exit code for track scripts
	hold    map[string]time.Duration // argv[0] -> how long the script runs (until its context ends)
	refuse  map[string]bool          // argv[0] -> the runner refuses it
	running int                      // scripts running now
	ran     []string                 // argv of every script run, joined
	sent    []*Advert
	conns   []*fakeConn
	index   map[string]int // interface index; absent = no such interface
	garps   int
	// addrDeleted is the router's address watch (WatchAddrDeletions).
	addrDeleted func(dev string, addr netip.Addr)
}

type fakeConn struct {
	p      *fakePlatform
	dev    string
	index  int // the interface it was opened on
	group  netip.Addr
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

// Write records the advert, unless the socket's interface is gone or was
// replaced: then, as a raw socket bound to a dead ifindex, it reaches
// nobody (and the kernel reports no error for it).
func (c *fakeConn) Write(b []byte, src, dst netip.Addr) error {
	a, err := Parse(b, src, dst, false)
	if err != nil {
		return err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.index[c.dev] != c.index {
		return nil
	}
	c.p.sent = append(c.p.sent, a)
	return nil
}

func (c *fakeConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

func newFakePlatform() *fakePlatform {
	return &fakePlatform{vips: map[string]bool{}, links: map[string]bool{"eth0": true, "eth1": true}, scripts: map[string]int{}, hold: map[string]time.Duration{}, refuse: map[string]bool{},
		index: map[string]int{"eth0": 2, "eth1": 3}}
}

func (p *fakePlatform) Listen(dev string, v6 bool, group netip.Addr, ttl int) (Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, ok := p.index[dev]
	if !ok {
		return nil, errors.New("no such device")
	}
	c := &fakeConn{p: p, dev: dev, index: idx, group: group, in: make(chan Received, 16), closed: make(chan struct{})}
	p.conns = append(p.conns, c)
	return c, nil
}
func (p *fakePlatform) LinkIndex(dev string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, ok := p.index[dev]
	if !ok {
		return 0, errors.New("no such link")
	}
	return idx, nil
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
func (p *fakePlatform) GARP(string, netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.garps++
	return nil
}
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
func (p *fakePlatform) WatchAddrDeletions(done <-chan struct{}, fn func(string, netip.Addr)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addrDeleted = fn
	return nil
}
func (p *fakePlatform) HasAddr(dev string, a netip.Addr) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.vips {
		if netip.MustParsePrefix(k).Addr() == a {
			return true, nil
		}
	}
	return false, nil
}

// deleteByHand removes an address as `ip addr del` would, and reports it
// to the router's address watch.
func (p *fakePlatform) deleteByHand(dev, prefix string) {
	p.mu.Lock()
	delete(p.vips, prefix)
	fn := p.addrDeleted
	p.mu.Unlock()
	if fn != nil {
		fn(dev, netip.MustParsePrefix(prefix).Addr())
	}
}
func (p *fakePlatform) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	p.mu.Lock()
	p.ran = append(p.ran, strings.Join(append(slices.Clone(s.Argv), args...), " "))
	hold, code := p.hold[s.Argv[0]], p.scripts[s.Argv[0]]
	if p.refuse[s.Argv[0]] {
		p.mu.Unlock()
		return -1, &script.RefusedError{Argv0: s.Argv[0], Reason: errors.New("unsafe")}
	}
	p.running++
	p.mu.Unlock()
	defer func() { p.mu.Lock(); p.running--; p.mu.Unlock() }()
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	return code, nil
}

func (p *fakePlatform) counts() (sent, garps, running, ran int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent), p.garps, p.running, len(p.ran)
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

// mustNewRouter is NewRouter on the configuration text src, failing the
// test on an error.
func mustNewRouter(t *testing.T, src string, p Platform) *Router {
	t.Helper()
	r, err := NewRouter(labtest.Config(t, src), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func startRouter(t *testing.T, src string, p *fakePlatform) *Router {
	t.Helper()
	r := mustNewRouter(t, src, p)
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
  # Without it keepalived (and lvsd) drop a member's weighted scripts.
  sync_group_tracking_weight
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

const slowNotifyConf = `
global_defs {
  vrrp_garp_interval 0.1
  vrrp_garp_master_repeat 5
  vrrp_garp_master_delay 0
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 255
  version 3
  advert_int 0.05
  notify_master /usr/local/bin/slow
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`

// A notify script that runs for 30 s holds up neither a reload's hand-over
// nor a stop: the protocol loop never waits for a script.
func TestRouterNeverWaitsForNotifyScripts(t *testing.T) {
	p := newFakePlatform()
	p.hold["/usr/local/bin/slow"] = 30 * time.Second
	cfg := labtest.Config(t, slowNotifyConf)
	r, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	labtest.WaitFor(t, "notify_master running", 3*time.Second, func() bool { _, _, running, _ := p.counts(); return running == 1 })

	start := time.Now()
	h := r.StopHandingOver(r.Keys())
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("hand-over waited %s for a notify script", took)
	}
	next, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	next.Adopt(h)
	go next.Run(context.Background())
	sent, _, _, _ := p.counts()
	labtest.WaitFor(t, "adverts continue from the new router", 3*time.Second, func() bool { s, _, _, _ := p.counts(); return s >= sent+3 })
	if st := next.Status()[0]; st.State != "MASTER" {
		t.Errorf("after the hand-over: %s", st.State)
	}
	if _, _, running, _ := p.counts(); running != 1 {
		t.Errorf("the script was not carried on across the reload: %d running", running)
	}

	start = time.Now()
	next.Stop()
	if took := time.Since(start); took > script.StopDrain+script.StopKill+500*time.Millisecond {
		t.Errorf("stop took %s with a notify script running", took)
	}
	if _, _, running, _ := p.counts(); running != 0 {
		t.Errorf("%d scripts still running after stop", running)
	}
}

// garp_interval spaces the GARP train on the machine's timers; leaving
// MASTER ends it at once.
func TestRouterGARPTrainStopsWithMaster(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, strings.Replace(slowNotifyConf, "priority 255", "priority 100", 1), p)
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
	_, garps, _, _ := p.counts()
	if garps != 1 {
		t.Errorf("%d GARPs at once on becoming master, want 1 (the rest spaced by 100 ms)", garps)
	}
	labtest.WaitFor(t, "sockets open", time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 1 })
	adv := &Advert{Version: 3, VRID: 1, Priority: 200, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	peer, group := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("224.0.0.18")
	b, _ := adv.Marshal(peer, group)
	p.conns[0].in <- Received{Payload: b, Src: peer, Dst: group, TTL: 255}
	labtest.WaitFor(t, "backup", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
	_, atBackup, _, _ := p.counts()
	for range 6 { // the peer stays master
		time.Sleep(50 * time.Millisecond)
		p.conns[0].in <- Received{Payload: b, Src: peer, Dst: group, TTL: 255}
	}
	if _, garps, _, _ := p.counts(); garps != atBackup || atBackup >= 5 {
		t.Errorf("GARPs: %d when it left MASTER, %d 300 ms later; want no more after MASTER and fewer than the whole train of 5", atBackup, garps)
	}
}

// An interface deleted and created again under the same name: the
// instance is held in FAULT while it is gone, and afterwards its socket is
// opened on the new interface, so a MASTER is never a silent one.
func TestRouterInterfaceRecreated(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, strings.Replace(slowNotifyConf, "notify_master /usr/local/bin/slow", "", 1), p)
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })

	p.mu.Lock()
	delete(p.index, "eth0")
	delete(p.links, "eth0")
	delete(p.vips, "10.0.0.100/24") // addresses go with the interface
	p.mu.Unlock()
	labtest.WaitFor(t, "FAULT while the interface is gone", 3*time.Second, func() bool { return r.Status()[0].State == "FAULT" })

	p.mu.Lock()
	p.index["eth0"] = 12
	p.links["eth0"] = true
	p.mu.Unlock()
	labtest.WaitFor(t, "master again", 6*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	sent, _, _, _ := p.counts()
	labtest.WaitFor(t, "adverts reach the new interface", 3*time.Second, func() bool { s, _, _, _ := p.counts(); return s >= sent+3 })
	if !p.hasVIP("10.0.0.100/24") {
		t.Error("VIP not on the new interface")
	}

	// Replaced between two looks (no event seen while it was gone): the
	// index alone tells, and the VIPs that went with it come back.
	p.mu.Lock()
	p.index["eth0"] = 13
	delete(p.vips, "10.0.0.100/24")
	p.mu.Unlock()
	labtest.WaitFor(t, "VIP restored on the replaced interface", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
	sent, _, _, _ = p.counts()
	labtest.WaitFor(t, "adverts reach the replaced interface", 3*time.Second, func() bool { s, _, _, _ := p.counts(); return s >= sent+3 })
}

// A track script the runner refuses (unsafe under enable_script_security,
// or its user missing) is dropped from tracking, as keepalived removes it:
// its weight does not apply and it is not run again.
func TestRouterRefusedTrackScriptIsUntracked(t *testing.T) {
	p := newFakePlatform()
	p.refuse["/usr/local/bin/chk_app"] = true
	p.scripts["/usr/local/bin/chk_app"] = 1 // were it run and counted, it would fail
	r := startRouter(t, routerConf, p)
	labtest.WaitFor(t, "VI_A master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
	time.Sleep(300 * time.Millisecond) // six script intervals
	if st := r.Status()[0]; st.Priority != 100 {
		t.Errorf("priority %d: a refused script's weight was applied", st.Priority)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ran := range p.ran {
		if ran == "/usr/local/bin/chk_app" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("refused script tried %d times, want once", n)
	}
}

// OnTransition's hook hears every state change, on the router's goroutine.
func TestRouterOnTransition(t *testing.T) {
	p := newFakePlatform()
	r := mustNewRouter(t, strings.Replace(slowNotifyConf, "notify_master /usr/local/bin/slow", "", 1), p)
	var calls atomic.Int32
	r.OnTransition(func() { calls.Add(1) })
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	labtest.WaitFor(t, "MASTER heard by the hook", 3*time.Second, func() bool { return calls.Load() == 1 && r.Status()[0].State == "MASTER" })
}
