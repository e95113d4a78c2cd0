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
	if p.fail {
		return errors.New("no macvlan")
	}
	p.vmu.Lock()
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

func (p *vmacFake) connDevs() []string {
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
		{name: "creation fails", opts: "use_vmac", fail: true, sockDev: "eth0",
			vipDevs: map[string]string{"10.1.0.100/24": "vrrp1.51"}, vmacs: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &vmacFake{fakePlatform: newFakePlatform(), vipDevs: map[string]string{}, fail: tc.fail}
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
			// Those it failed to make are removed too if they are
			// macvlans (netif.DelVMAC leaves anything else alone).
			if want := []string{"vrrp.51", "vrrp1.51"}; tc.fail && !slices.Equal(p.deleted, want) {
				t.Errorf("VMACs removed at stop %v, want %v", p.deleted, want)
			}
			if !tc.fail && !slices.Equal(p.deleted, tc.vmacs) {
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
