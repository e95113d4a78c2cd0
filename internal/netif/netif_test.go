package netif

import (
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a goroutine locked to a thread inside ns (the
// thread is never returned to the pool: it ends with the goroutine).
// fn reports with t.Errorf and returns; it must not call t.Fatal.
func inNetns(t *testing.T, ns *labtest.Netns, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns.Name)
		if err != nil {
			t.Errorf("netns %s: %v", ns.Name, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Errorf("setns %s: %v", ns.Name, err)
			return
		}
		fn()
	}()
	<-done
}

// vethLab is a namespace with veth0 (10.9.0.1/24, 2001:db8::1/64) whose
// peer veth1 is in a second namespace (10.9.0.2/24).
func vethLab(t *testing.T) (*labtest.Netns, *labtest.Netns) {
	if testing.Short() {
		t.Skip("namespace lab")
	}
	a := labtest.NewNetns(t, "nif")
	b := labtest.NewNetns(t, "nifp")
	a.MustIP(t, "link", "add", "veth0", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "veth1", "netns", b.Name)
	a.MustIP(t, "addr", "add", "10.9.0.1/24", "dev", "veth0")
	a.MustIP(t, "addr", "add", "2001:db8::1/64", "dev", "veth0", "nodad")
	a.MustIP(t, "link", "set", "veth0", "up")
	b.MustIP(t, "addr", "add", "10.9.0.2/24", "dev", "veth1")
	b.MustIP(t, "link", "set", "veth1", "up")
	return a, b
}

func sysctlIs(t *testing.T, family, dev, name string, want int) {
	t.Helper()
	if v, err := Sysctl(family, dev, name); err != nil || v != want {
		t.Errorf("%s/conf/%s/%s = %d (%v), want %d", family, dev, name, v, err, want)
	}
}

func TestVMACIPv4Lifecycle(t *testing.T) {
	a, _ := vethLab(t)
	inNetns(t, a, func() {
		for _, s := range []struct {
			dev, name string
			v         int
		}{
			{"all", "rp_filter", 2}, {"default", "rp_filter", 1}, {"veth0", "rp_filter", 0}, {"lo", "rp_filter", 2},
			{"veth0", "arp_ignore", 0}, {"veth0", "arp_filter", 0},
		} {
			if err := SetSysctl("ipv4", s.dev, s.name, s.v); err != nil {
				t.Errorf("set %s %s: %v", s.dev, s.name, err)
				return
			}
		}
		mac, _ := net.ParseMAC("00:00:5e:00:01:33")
		v := VMAC{Name: "vrrp.51", Parent: "veth0", MAC: mac}
		created, err := AddVMAC(v)
		if err != nil || !created {
			t.Errorf("AddVMAC: %v %v", created, err)
			return
		}
		l, err := netlink.LinkByName("vrrp.51")
		if err != nil {
			t.Errorf("%v", err)
			return
		}
		mv, ok := l.(*netlink.Macvlan)
		parent, _ := netlink.LinkByName("veth0")
		switch {
		case !ok:
			t.Errorf("vrrp.51 is a %s, not a macvlan", l.Type())
		case mv.Mode != netlink.MACVLAN_MODE_PRIVATE:
			t.Errorf("mode %v, want private", mv.Mode)
		case mv.Attrs().HardwareAddr.String() != "00:00:5e:00:01:33":
			t.Errorf("MAC %s", mv.Attrs().HardwareAddr)
		case mv.Attrs().ParentIndex != parent.Attrs().Index:
			t.Errorf("parent %d, want %d", mv.Attrs().ParentIndex, parent.Attrs().Index)
		case mv.Attrs().Flags&net.FlagUp == 0:
			t.Errorf("vrrp.51 is not up")
		}
		for _, s := range []struct {
			dev, name string
			v         int
		}{
			{"vrrp.51", "arp_ignore", 1}, {"vrrp.51", "accept_local", 1}, {"vrrp.51", "rp_filter", 0}, {"vrrp.51", "promote_secondaries", 1},
			{"veth0", "arp_ignore", 1}, {"veth0", "arp_filter", 1},
			{"all", "rp_filter", 0}, {"default", "rp_filter", 2}, {"veth0", "rp_filter", 2}, {"lo", "rp_filter", 2},
		} {
			sysctlIs(t, "ipv4", s.dev, s.name, s.v)
		}
		sysctlIs(t, "ipv6", "vrrp.51", "disable_ipv6", 1)
		// Taken over as it is.
		if created, err := AddVMAC(v); err != nil || created {
			t.Errorf("AddVMAC again: %v %v", created, err)
		}
		if err := DelVMAC(v); err != nil {
			t.Errorf("DelVMAC: %v", err)
		}
		if _, err := netlink.LinkByName("vrrp.51"); err == nil {
			t.Errorf("vrrp.51 still there")
		}
		for _, s := range []struct {
			dev, name string
			v         int
		}{
			{"veth0", "arp_ignore", 0}, {"veth0", "arp_filter", 0},
			{"all", "rp_filter", 2}, {"default", "rp_filter", 1}, {"veth0", "rp_filter", 0}, {"lo", "rp_filter", 2},
		} {
			sysctlIs(t, "ipv4", s.dev, s.name, s.v)
		}
		if err := DelVMAC(v); err != nil {
			t.Errorf("DelVMAC of a VMAC gone: %v", err)
		}
	})
}

func TestVMACIPv6LinkLocal(t *testing.T) {
	a, _ := vethLab(t)
	inNetns(t, a, func() {
		mac, _ := net.ParseMAC("00:00:5e:00:02:33")
		v := VMAC{Name: "vrrp.51", Parent: "veth0", MAC: mac, IPv6: true, EnableIPv6: true, LinkLocal: true}
		if _, err := AddVMAC(v); err != nil {
			t.Errorf("AddVMAC: %v", err)
			return
		}
		defer DelVMAC(v)
		want, err := PrimaryAddr("veth0", true)
		if err != nil {
			t.Errorf("veth0 link-local: %v", err)
			return
		}
		l, _ := netlink.LinkByName("vrrp.51")
		// The kernel would add fe80::200:5eff:fe00:233 without
		// addr_gen_mode none; only the parent's link-local is there.
		deadline := time.Now().Add(2 * time.Second)
		var got []string
		for {
			addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6)
			got = got[:0]
			for _, a := range addrs {
				got = append(got, a.IPNet.String())
			}
			if strings.Join(got, " ") == want.String()+"/64" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if strings.Join(got, " ") != want.String()+"/64" {
			t.Errorf("vrrp.51 IPv6 addresses %v, want %s/64", got, want)
		}
		if addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6); len(addrs) != 1 || addrs[0].PreferedLft != 0 || addrs[0].Flags&unix.IFA_F_NODAD == 0 {
			t.Errorf("vrrp.51's link-local is not deprecated nodad as keepalived's: %+v", addrs)
		}
		sysctlIs(t, "ipv6", "vrrp.51", "disable_ipv6", 0)
		sysctlIs(t, "ipv4", "veth0", "arp_ignore", 0) // IPv6 VMACs leave IPv4 alone
	})
}

func TestEUI64LinkLocal(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	if got := EUI64LinkLocal(mac).String(); got != "fe80::ff:fe00:1" {
		t.Errorf("got %s", got)
	}
}

func TestVMACConflicts(t *testing.T) {
	a, _ := vethLab(t)
	inNetns(t, a, func() {
		mac, _ := net.ParseMAC("00:00:5e:00:01:33")
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vrrp.51"}, PeerName: "vrrp.51p"}); err != nil {
			t.Errorf("veth: %v", err)
			return
		}
		if _, err := AddVMAC(VMAC{Name: "vrrp.51", Parent: "veth0", MAC: mac}); err == nil || !strings.Contains(err.Error(), "conflicts") {
			t.Errorf("AddVMAC over a veth: %v", err)
		}
		if err := DelVMAC(VMAC{Name: "vrrp.51", Parent: "veth0", MAC: mac}); err == nil {
			t.Errorf("DelVMAC removed a veth")
		}
		// A macvlan with another MAC is made again with the right one.
		la := netlink.NewLinkAttrs()
		parent, _ := netlink.LinkByName("veth0")
		la.Name, la.ParentIndex = "vrrp.52", parent.Attrs().Index
		if err := netlink.LinkAdd(&netlink.Macvlan{LinkAttrs: la, Mode: netlink.MACVLAN_MODE_BRIDGE}); err != nil {
			t.Errorf("macvlan: %v", err)
			return
		}
		mac2, _ := net.ParseMAC("00:00:5e:00:01:34")
		v := VMAC{Name: "vrrp.52", Parent: "veth0", MAC: mac2}
		if created, err := AddVMAC(v); err != nil || !created {
			t.Errorf("AddVMAC over a bridge macvlan: %v %v", created, err)
		}
		l, _ := netlink.LinkByName("vrrp.52")
		if mv, ok := l.(*netlink.Macvlan); !ok || mv.Mode != netlink.MACVLAN_MODE_PRIVATE || mv.Attrs().HardwareAddr.String() != mac2.String() {
			t.Errorf("vrrp.52 not updated: %#v", l)
		}
		// A VMAC of that name with another MAC (a reload gave the name
		// to another instance) is not removed for the old one.
		if err := DelVMAC(VMAC{Name: "vrrp.52", Parent: "veth0", MAC: mac}); err == nil || !strings.Contains(err.Error(), "another MAC") {
			t.Errorf("DelVMAC of another VMAC of that name: %v", err)
		}
		if !OwnsVMAC("vrrp.52") {
			t.Errorf("vrrp.52 no longer owned after a DelVMAC that left it alone")
		}
		if err := DelVMAC(v); err != nil {
			t.Errorf("DelVMAC: %v", err)
		}
		if _, err := netlink.LinkByName("vrrp.52"); err == nil || OwnsVMAC("vrrp.52") {
			t.Errorf("vrrp.52 still there (or owned)")
		}
		if _, err := AddVMAC(VMAC{Name: "x", Parent: "nosuch", MAC: mac}); err == nil {
			t.Errorf("AddVMAC on a missing parent succeeded")
		}
	})
}

func TestVIPsAndLinks(t *testing.T) {
	a, b := vethLab(t)
	inNetns(t, a, func() {
		v := VIP{Prefix: netip.MustParsePrefix("10.9.0.100/24"), Dev: "veth0", Label: "veth0:1", Broadcast: netip.MustParseAddr("10.9.0.255"), Scope: "global"}
		v6 := VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Dev: "veth0"}
		for _, x := range []VIP{v, v, v6} {
			if err := AddVIP(x); err != nil {
				t.Errorf("AddVIP %s: %v", x, err)
			}
		}
		out, _ := exec.Command("ip", "-n", a.Name, "addr", "show", "dev", "veth0").CombinedOutput()
		for _, want := range []string{"inet 10.9.0.100/24 brd 10.9.0.255 scope global secondary veth0:1", "inet6 2001:db8::100/64 scope global nodad"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("ip addr lacks %q:\n%s", want, out)
			}
		}
		if ok, err := HasAddr("veth0", v.Prefix.Addr()); !ok || err != nil {
			t.Errorf("HasAddr: %v %v", ok, err)
		}
		if p, err := PrimaryAddr("veth0", false); err != nil || p.String() != "10.9.0.1" {
			t.Errorf("PrimaryAddr v4: %v %v", p, err)
		}
		if p, err := PrimaryAddr("veth0", true); err != nil || !p.IsLinkLocalUnicast() {
			t.Errorf("PrimaryAddr v6: %v %v", p, err)
		}
		if _, err := PrimaryAddr("lo", false); err != nil {
			t.Errorf("PrimaryAddr lo: %v", err)
		}
		for _, x := range []VIP{v, v, v6} {
			if err := DelVIP(x); err != nil {
				t.Errorf("DelVIP %s: %v", x, err)
			}
		}
		if ok, _ := HasAddr("veth0", v.Prefix.Addr()); ok {
			t.Errorf("VIP still there")
		}
		if err := AddVIP(VIP{Prefix: v.Prefix, Dev: "nosuch"}); err == nil {
			t.Errorf("AddVIP on a missing interface succeeded")
		}
		if up, err := LinkUp("veth0"); !up || err != nil {
			t.Errorf("LinkUp: %v %v", up, err)
		}
		if i, err := LinkIndex("veth0"); i == 0 || err != nil {
			t.Errorf("LinkIndex: %v %v", i, err)
		}
	})
	// Gratuitous ARP: read on the peer.
	pc := peerARP(t, b)
	if pc == nil {
		return
	}
	inNetns(t, a, func() {
		ann := NewAnnouncer()
		defer ann.Close()
		if err := ann.GARP("veth0", netip.MustParseAddr("10.9.0.100")); err != nil {
			t.Errorf("GARP: %v", err)
		}
	})
	_ = pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		p, eth, err := pc.Read()
		if err != nil {
			t.Fatalf("no gratuitous ARP on the peer: %v", err)
		}
		if p.TargetIP.String() != "10.9.0.100" {
			continue
		}
		if p.Operation != arp.OperationRequest || p.SenderIP != p.TargetIP || p.SenderHardwareAddr.String() != "02:00:00:00:00:01" ||
			eth.Destination.String() != "ff:ff:ff:ff:ff:ff" {
			t.Errorf("GARP %+v from %s to %s", p, eth.Source, eth.Destination)
		}
		break
	}
}

// TestUnsolicitedNA: the IPv6 announcement keepalived sends for a VIP, an
// unsolicited neighbour advertisement from an address of the interface
// to ff02::1, hop limit 255, override flag, the interface's MAC as target
// link-layer address, read on the peer through a packet socket.
func TestUnsolicitedNA(t *testing.T) {
	a, b := vethLab(t)
	fd := -1
	inNetns(t, b, func() {
		proto := int(htons(unix.ETH_P_IPV6))
		s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
		if err != nil {
			t.Errorf("packet socket: %v", err)
			return
		}
		ifi, err := net.InterfaceByName("veth1")
		if err == nil {
			err = unix.Bind(s, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index})
		}
		if err != nil {
			unix.Close(s)
			t.Errorf("bind: %v", err)
			return
		}
		_ = unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 3})
		fd = s
	})
	if fd < 0 {
		return
	}
	defer unix.Close(fd)
	inNetns(t, a, func() {
		ann := NewAnnouncer()
		defer ann.Close()
		if err := ann.GARP("veth0", netip.MustParseAddr("2001:db8::100")); err != nil {
			t.Errorf("unsolicited NA: %v", err)
		}
	})
	buf := make([]byte, 1600)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("no neighbour advertisement on the peer: %v", err)
		}
		f := buf[:n]
		if n < 86 || f[20] != 58 || f[54] != 136 {
			continue
		}
		if target, _ := netip.AddrFromSlice(f[62:78]); target.String() != "2001:db8::100" {
			continue
		}
		src, _ := netip.AddrFromSlice(f[22:38])
		dst, _ := netip.AddrFromSlice(f[38:54])
		// The kernel picks the source: the link-local address, or the
		// global one while the link-local is still tentative.
		if !(src.IsLinkLocalUnicast() || src.String() == "2001:db8::1") || dst.String() != "ff02::1" || f[21] != 255 || f[58] != 0x20 ||
			f[78] != 2 || f[79] != 1 || net.HardwareAddr(f[80:86]).String() != "02:00:00:00:00:01" || net.HardwareAddr(f[6:12]).String() != "02:00:00:00:00:01" {
			t.Errorf("NA %v -> %v hop limit %d flags %#x option % x", src, dst, f[21], f[58], f[78:86])
		}
		return
	}
}

func TestRoutesAndRules(t *testing.T) {
	a, _ := vethLab(t)
	inNetns(t, a, func() {
		r := config.Route{Dst: netip.MustParsePrefix("10.20.0.0/16"), Via: netip.MustParseAddr("10.9.0.2"), Dev: "veth0",
			Family: 4, Table: 100, Protocol: 3, Scope: -1, Text: "10.20.0.0/16 via 10.9.0.2 table 100"}
		for i := 0; i < 2; i++ {
			if err := AddRoute(r); err != nil {
				t.Errorf("AddRoute: %v", err)
			}
		}
		rule := config.Rule{From: netip.MustParsePrefix("10.9.0.100/32"), Action: "table", Table: 100, Priority: 100, Family: 4, Mark: -1, Mask: -1, Text: "from 10.9.0.100 table 100"}
		for i := 0; i < 2; i++ {
			if err := AddRule(rule); err != nil {
				t.Errorf("AddRule: %v", err)
			}
		}
		out, _ := exec.Command("ip", "-n", a.Name, "route", "show", "table", "100").CombinedOutput()
		if !strings.Contains(string(out), "10.20.0.0/16 via 10.9.0.2 dev veth0") {
			t.Errorf("route table 100:\n%s", out)
		}
		out, _ = exec.Command("ip", "-n", a.Name, "rule", "show").CombinedOutput()
		if !strings.Contains(string(out), "100:\tfrom 10.9.0.100 lookup 100") {
			t.Errorf("rules:\n%s", out)
		}
		for i := 0; i < 2; i++ {
			if err := DelRoute(r); err != nil {
				t.Errorf("DelRoute: %v", err)
			}
			if err := DelRule(rule); err != nil {
				t.Errorf("DelRule: %v", err)
			}
		}
		out, _ = exec.Command("ip", "-n", a.Name, "route", "show", "table", "100").CombinedOutput()
		if strings.TrimSpace(string(out)) != "" {
			t.Errorf("route left: %s", out)
		}
		r.Dev = "nosuch"
		if err := AddRoute(r); err == nil {
			t.Errorf("AddRoute on a missing interface succeeded")
		}
	})
}

func TestWatchLinks(t *testing.T) {
	a, _ := vethLab(t)
	got := make(chan string, 16)
	done := make(chan struct{})
	defer close(done)
	inNetns(t, a, func() {
		if err := WatchLinks(done, func(n string) { got <- n }, nil); err != nil {
			t.Errorf("WatchLinks: %v", err)
		}
	})
	a.MustIP(t, "link", "set", "veth0", "down")
	timeout := time.After(5 * time.Second)
	for {
		select {
		case n := <-got:
			if n == "veth0" {
				return
			}
		case <-timeout:
			t.Fatal("no link event for veth0")
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// TestGARPAfterLinkBounce: the announcer's socket on veth0 outlives a
// link down and up, which leaves it a pending ENETDOWN; the first GARP
// after the link is back must still succeed and reach the peer. Before
// the retry it failed with "network is down" and a VRRP master coming
// back after a link fault lost its first announcement.
func TestGARPAfterLinkBounce(t *testing.T) {
	a, b := vethLab(t)
	pc := peerARP(t, b)
	if pc == nil {
		return
	}
	ann := NewAnnouncer()
	defer ann.Close()
	vip := netip.MustParseAddr("10.9.0.100")
	inNetns(t, a, func() {
		if err := ann.GARP("veth0", vip); err != nil {
			t.Errorf("first GARP: %v", err)
		}
	})
	a.MustIP(t, "link", "set", "veth0", "down")
	a.MustIP(t, "link", "set", "veth0", "up")
	b.MustIP(t, "link", "set", "veth1", "up")
	// Drain what the first GARP left on the peer, then expect exactly the
	// one sent after the bounce.
	_ = pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		if _, _, err := pc.Read(); err != nil {
			break
		}
	}
	inNetns(t, a, func() {
		if err := ann.GARP("veth0", vip); err != nil {
			t.Errorf("GARP after the link came back: %v", err)
		}
	})
	_ = pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		p, _, err := pc.Read()
		if err != nil {
			t.Fatalf("no gratuitous ARP on the peer after the bounce: %v", err)
		}
		if p.TargetIP == vip && p.SenderIP == vip {
			return
		}
	}
}

// HasRoute and HasRule find what AddRoute and AddRule installed, as the
// kernel lists it, and nothing once it is deleted: the route watch acts
// on a deletion only when they say it is gone.
func TestHasRouteAndRule(t *testing.T) {
	a, _ := vethLab(t)
	routes := []config.Route{
		{Family: 4, Dst: netip.MustParsePrefix("10.70.0.0/24"), Dev: "veth0", Table: 254, Protocol: 18, Scope: -1, Text: "10.70.0.0/24 dev veth0"},
		{Family: 4, Dst: netip.MustParsePrefix("10.72.0.0/24"), Type: unix.RTN_BLACKHOLE, Table: 100, Protocol: 18, Scope: -1, Metric: 7, Text: "blackhole 10.72.0.0/24 table 100 metric 7"},
		{Family: 6, Dst: netip.MustParsePrefix("2001:db8:70::/64"), Dev: "veth0", Protocol: 18, Scope: -1, Text: "2001:db8:70::/64 dev veth0"},
	}
	rules := []config.Rule{
		{Family: 4, From: netip.MustParsePrefix("10.71.0.0/24"), Action: "table", Table: 101, Priority: 101, Protocol: 18, Mark: -1, Mask: -1, Text: "from 10.71.0.0/24 table 101"},
		{Family: 6, To: netip.MustParsePrefix("2001:db8:71::/64"), Action: "table", Table: 102, Priority: 102, Protocol: 18, Mark: 5, Mask: -1, Text: "to 2001:db8:71::/64 fwmark 5 table 102"},
	}
	inNetns(t, a, func() {
		check := func(when string, want bool) {
			for _, r := range routes {
				if got, err := HasRoute(r); got != want || err != nil {
					t.Errorf("%s: HasRoute(%s) = %v, %v; want %v", when, r.Text, got, err, want)
				}
			}
			for _, r := range rules {
				if got, err := HasRule(r); got != want || err != nil {
					t.Errorf("%s: HasRule(%s) = %v, %v; want %v", when, r.Text, got, err, want)
				}
			}
		}
		check("before", false)
		for _, r := range routes {
			if err := AddRoute(r); err != nil {
				t.Errorf("AddRoute(%s): %v", r.Text, err)
			}
		}
		for _, r := range rules {
			if err := AddRule(r); err != nil {
				t.Errorf("AddRule(%s): %v", r.Text, err)
			}
		}
		check("added", true)
		for _, r := range routes {
			if err := DelRoute(r); err != nil {
				t.Errorf("DelRoute(%s): %v", r.Text, err)
			}
		}
		for _, r := range rules {
			if err := DelRule(r); err != nil {
				t.Errorf("DelRule(%s): %v", r.Text, err)
			}
		}
		check("deleted", false)
	})
}

// peerARP is an ARP socket on the peer's veth1, closed at the test's end;
// nil (the test marked failed) if it cannot be opened.
func peerARP(t *testing.T, b *labtest.Netns) *arp.Client {
	var pc *arp.Client
	inNetns(t, b, func() {
		ifi, err := net.InterfaceByName("veth1")
		if err == nil {
			pc, err = arp.Dial(ifi)
		}
		if err != nil {
			t.Errorf("peer arp socket: %v", err)
		}
	})
	if pc != nil {
		t.Cleanup(func() { _ = pc.Close() })
	}
	return pc
}

// TestPromoteSecondaries: raised from 0 and put back at restore; an
// interface already at 1 is left at 1 (keepalived's
// set_promote_secondaries and reset_promote_secondaries).
func TestPromoteSecondaries(t *testing.T) {
	a, b := vethLab(t)
	b.MustIP(t, "link", "add", "dum0", "type", "veth", "peer", "name", "dum0p")
	inNetns(t, b, func() {
		if err := SetSysctl("ipv4", "dum0", "promote_secondaries", 1); err != nil {
			t.Error(err)
		}
	})
	inNetns(t, a, func() {
		sysctlIs(t, "ipv4", "veth0", "promote_secondaries", 0)
		for i := 0; i < 2; i++ {
			if err := PromoteSecondaries("veth0"); err != nil {
				t.Error(err)
			}
			sysctlIs(t, "ipv4", "veth0", "promote_secondaries", 1)
		}
		if err := PromoteSecondaries("nosuch0"); err == nil {
			t.Error("promote_secondaries on a missing interface: no error")
		}
		if err := RestorePromoteSecondaries(); err != nil {
			t.Error(err)
		}
		sysctlIs(t, "ipv4", "veth0", "promote_secondaries", 0)
	})
	inNetns(t, b, func() {
		if err := PromoteSecondaries("dum0"); err != nil {
			t.Error(err)
		}
		if err := RestorePromoteSecondaries(); err != nil {
			t.Error(err)
		}
		sysctlIs(t, "ipv4", "dum0", "promote_secondaries", 1)
	})
}
