package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/netif"
)

func init() {
	notRead["Instance.UseVMACAddr"] = "use_vmac_addr: resolved at load into Instance.VMACs and the VIPs' interfaces, which the spec holds"
}

// vmacFake is the fake platform with VMACs: AddVMAC makes the interface
// exist (up), DelVMAC removes it; VIPs and GARPs are recorded with their
// interface.
type vmacFake struct {
	*fakePlatform
	vmu     sync.Mutex
	added   []netif.VMAC
	deleted []string
	vipDevs map[string]string // VIP -> dev
	garpDev []string
	fail    bool
}

func (p *vmacFake) AddVMAC(v netif.VMAC) error {
	p.vmu.Lock()
	if p.fail {
		p.vmu.Unlock()
		return errors.New("no macvlan")
	}
	p.added = append(p.added, v)
	p.vmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.index[v.Name]; !ok {
		p.index[v.Name] = 100 + len(p.index)
	}
	p.links[v.Name] = true
	return nil
}

func (p *vmacFake) OwnsVMAC(name string) bool {
	p.vmu.Lock()
	defer p.vmu.Unlock()
	for _, v := range p.added {
		if v.Name == name {
			return !slices.Contains(p.deleted, name)
		}
	}
	return false
}

func (p *vmacFake) DelVMAC(v netif.VMAC) error {
	p.vmu.Lock()
	p.deleted = append(p.deleted, v.Name)
	p.vmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.index, v.Name)
	delete(p.links, v.Name)
	return nil
}

func (p *vmacFake) AddVIP(v netif.VIP) error {
	p.vmu.Lock()
	p.vipDevs[v.Prefix.String()] = v.Dev
	p.vmu.Unlock()
	return p.fakePlatform.AddVIP(v)
}

func (p *vmacFake) GARP(dev string, ip netip.Addr) error {
	p.vmu.Lock()
	p.garpDev = append(p.garpDev, dev+" "+ip.String())
	p.vmu.Unlock()
	return p.fakePlatform.GARP(dev, ip)
}

func (p *fakePlatform) connDevs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.conns {
		out = append(out, c.dev)
	}
	return out
}

const vmacConf = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  %s
  virtual_ipaddress {
    10.0.0.100/24
    10.1.0.100/24 dev eth1 use_vmac
  }
}
`

func TestVMACRouter(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		fail       bool
		sockDev    string
		vipDevs    map[string]string
		vmacs      []string
	}{
		{name: "use_vmac", opts: "use_vmac", sockDev: "vrrp.51",
			vipDevs: map[string]string{"10.0.0.100/24": "vrrp.51", "10.1.0.100/24": "vrrp1.51"}, vmacs: []string{"vrrp.51", "vrrp1.51"}},
		{name: "named, xmit base", opts: "use_vmac vm51\n vmac_xmit_base", sockDev: "eth0",
			vipDevs: map[string]string{"10.0.0.100/24": "vm51", "10.1.0.100/24": "vrrp.51"}, vmacs: []string{"vm51", "vrrp.51"}},
		{name: "vip option only", opts: "", sockDev: "eth0",
			vipDevs: map[string]string{"10.0.0.100/24": "eth0", "10.1.0.100/24": "vrrp.51"}, vmacs: []string{"vrrp.51"}},
		{name: "creation fails", opts: "use_vmac", fail: true, sockDev: "eth0", vmacs: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &vmacFake{fakePlatform: newFakePlatform(), vipDevs: map[string]string{}, fail: tc.fail}
			if tc.fail {
				// An interface of that name that is no VMAC of ours.
				p.index["vrrp.51"], p.links["vrrp.51"] = 50, true
			}
			r, err := NewRouter(labtest.Config(t, fmt.Sprintf(vmacConf, tc.opts)), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, v := range p.added {
				names = append(names, v.Name)
			}
			if !slices.Equal(names, tc.vmacs) {
				t.Errorf("VMACs made %v, want %v", names, tc.vmacs)
			}
			if got := p.connDevs(); len(got) != 1 || got[0] != tc.sockDev {
				t.Errorf("sockets on %v, want %s", got, tc.sockDev)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { r.Run(ctx); close(done) }()
			if tc.fail {
				// keepalived: an instance whose VMAC is missing is in
				// FAULT; lvsd tries to make it again at each link check.
				time.Sleep(1500 * time.Millisecond)
				if st := r.Status(); st[0].State != "FAULT" || p.hasVIP("10.0.0.100/24") {
					t.Errorf("instance without its VMAC: %s, VIP %v; want FAULT without it", st[0].State, p.hasVIP("10.0.0.100/24"))
				}
				cancel()
				<-done
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for !p.hasVIP("10.0.0.100/24") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			p.vmu.Lock()
			for vip, dev := range tc.vipDevs {
				if p.vipDevs[vip] != dev {
					t.Errorf("VIP %s on %q, want %s", vip, p.vipDevs[vip], dev)
				}
			}
			for _, g := range p.garpDev {
				ip := g[len(g)-10:]
				if want := tc.vipDevs[ip+"/24"]; want != "" && g != want+" "+ip {
					t.Errorf("GARP %q, want it on %s", g, want)
				}
			}
			if len(p.garpDev) == 0 {
				t.Errorf("no GARP")
			}
			p.vmu.Unlock()
			cancel()
			<-done
			if !slices.Equal(p.deleted, tc.vmacs) {
				t.Errorf("VMACs removed at stop %v, want %v", p.deleted, tc.vmacs)
			}
		})
	}
}

func TestVMACKeptAcrossHandoff(t *testing.T) {
	p := &vmacFake{fakePlatform: newFakePlatform(), vipDevs: map[string]string{}}
	cfg := labtest.Config(t, fmt.Sprintf(vmacConf, "use_vmac"))
	r, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Run(context.Background()); close(done) }()
	time.Sleep(100 * time.Millisecond)
	h := r.StopHandingOver(r.Keys())
	<-done
	if len(p.deleted) != 0 {
		t.Errorf("VMACs removed on a reload that keeps the instance: %v", p.deleted)
	}
	r2, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2.Adopt(h)
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { r2.Run(ctx); close(done2) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done2
	if !slices.Equal(p.deleted, []string{"vrrp.51", "vrrp1.51"}) {
		t.Errorf("VMACs removed at the final stop: %v", p.deleted)
	}
}

// TestVMACMadeAgain: a VMAC deleted under the router is made again at the
// next link check, its socket opened again and the MASTER's VIPs put
// back on it; while it is missing the instance is in FAULT.
func TestVMACMadeAgain(t *testing.T) {
	p := &vmacFake{fakePlatform: newFakePlatform(), vipDevs: map[string]string{}}
	r, err := NewRouter(labtest.Config(t, fmt.Sprintf(vmacConf, "use_vmac")), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	labtest.WaitFor(t, "MASTER with the VIP", 10*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
	p.vmu.Lock()
	made := len(p.added)
	p.fail = true
	p.vmu.Unlock()
	// Deleted: its addresses go with it.
	p.mu.Lock()
	delete(p.index, "vrrp.51")
	delete(p.links, "vrrp.51")
	delete(p.vips, "10.0.0.100/24")
	p.mu.Unlock()
	labtest.WaitFor(t, "FAULT while the VMAC cannot be made", 10*time.Second, func() bool { return r.Status()[0].State == "FAULT" })
	p.vmu.Lock()
	p.fail = false
	p.vmu.Unlock()
	labtest.WaitFor(t, "the VMAC made again, MASTER with the VIP on it", 15*time.Second, func() bool {
		p.vmu.Lock()
		defer p.vmu.Unlock()
		return len(p.added) > made && p.hasVIP("10.0.0.100/24") && p.vipDevs["10.0.0.100/24"] == "vrrp.51"
	})
	if devs := p.connDevs(); devs[len(devs)-1] != "vrrp.51" || len(devs) < 2 {
		t.Errorf("sockets %v: none opened again on vrrp.51", devs)
	}
}
