package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// vmacNetState is what use_vmac changes in a namespace: the VMAC's link
// (kind, mode, MAC, flags, addrgenmode), the addresses on it and on its
// parent, and the sysctls keepalived sets on the VMAC, its parent and
// all/default.
func vmacNetState(l *vrrpLab, h, vmac string) string {
	var lines []string
	ns := l.ns(h)
	idx := regexp.MustCompile(`^\d+: `)
	lft := regexp.MustCompile(`\s+(valid_lft|preferred_lft) \S+`)
	noise := regexp.MustCompile(` (link-netnsid|gso_max_size|gso_max_segs|tso_max_size|tso_max_segs|gro_max_size|gso_ipv4_max_size|gro_ipv4_max_size|parentbus|parentdev) \S+`)
	if out, err := exec.Command("ip", "-n", ns, "-d", "-o", "link", "show", "dev", vmac).CombinedOutput(); err != nil {
		lines = append(lines, "link "+vmac+" absent")
	} else {
		ln := noise.ReplaceAllString(idx.ReplaceAllString(strings.TrimSpace(string(out)), ""), "")
		lines = append(lines, "link "+strings.Join(strings.Fields(strings.ReplaceAll(ln, "\\", "")), " "))
		out, _ := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", vmac).CombinedOutput()
		for _, a := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if a = strings.TrimSpace(lft.ReplaceAllString(idx.ReplaceAllString(a, ""), "")); a != "" {
				lines = append(lines, "addr "+strings.Join(strings.Fields(strings.ReplaceAll(a, "\\", "")), " "))
			}
		}
	}
	out, _ := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	for _, a := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if a = strings.TrimSpace(lft.ReplaceAllString(idx.ReplaceAllString(a, ""), "")); a != "" && !strings.Contains(a, "fe80::") {
			lines = append(lines, "addr "+strings.Join(strings.Fields(strings.ReplaceAll(a, "\\", "")), " "))
		}
	}
	var files []string
	for _, dev := range []string{vmac, "eth0", "all", "default"} {
		for _, s := range []string{"arp_ignore", "arp_filter", "accept_local", "rp_filter", "promote_secondaries"} {
			files = append(files, "/proc/sys/net/ipv4/conf/"+dev+"/"+s)
		}
		files = append(files, "/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6")
	}
	for _, f := range files {
		b, err := exec.Command("ip", "netns", "exec", ns, "cat", f).Output()
		if err == nil {
			lines = append(lines, "sysctl "+strings.TrimPrefix(f, "/proc/sys/net/")+" = "+strings.TrimSpace(string(b)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// wireFrom sums up a capture on the client: the source MACs of the
// adverts and of the gratuitous ARPs for the VIP (frame and ARP sender).
func wireFrom(frames []frame) (adverts, garps string) {
	adv, arp := map[string]bool{}, map[string]bool{}
	for _, f := range frames {
		src := net.HardwareAddr(f.data[6:12]).String()
		if _, ok := parseVRRP(f.data); ok {
			adv[src] = true
		}
		// IPv6: VRRP (next header 112) and unsolicited neighbour
		// advertisements (ICMPv6 136) for the VIP.
		if d := f.data; len(d) >= 14+40+24 && d[12] == 0x86 && d[13] == 0xdd {
			switch {
			case d[20] == 112:
				adv[src] = true
			case d[20] == 58 && d[54] == 136 && net.IP(d[62:78]).String() == labVIP6:
				arp["frame "+src+" NA"] = true
			}
		}
		if a, ok := parseARP(f.data); ok && a.senderIP == labVIP && a.targetIP == labVIP {
			arp["frame "+src+" sender "+a.senderMAC] = true
		}
	}
	keys := func(m map[string]bool) string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return strings.Join(s, ", ")
	}
	return keys(adv), keys(arp)
}

// TestUseVMACMatchesKeepalived: keepalived 2.2.7 and lvsd, each in a lab of
// its own built alike (all/rp_filter 1, the parent's arp_ignore and
// arp_filter 0), run the same instance with use_vmac, and with
// use_vmac and vmac_xmit_base. Compared, as MASTER: the VMAC's link
// (vrrp.51, macvlan mode private, 00:00:5e:00:01:33, up, addrgenmode
// none), the addresses on it and on eth0, the sysctls on the VMAC, eth0,
// all and default, and on the client the source MAC of the adverts (the
// VMAC's, or eth0's with vmac_xmit_base) and of the gratuitous ARPs
// (the VMAC's); after SIGTERM, the VMAC gone and every sysctl back.
func TestUseVMACMatchesKeepalived(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace lab")
	}
	labtest.NeedBinary(t, "keepalived")
	for _, v := range []struct {
		name, extra string
		ipv6        bool
		vipOption   bool // the use_vmac virtual address option, not the keyword
	}{
		{"use_vmac", "  use_vmac\n", false, false},
		{"vmac_xmit_base", "  use_vmac\n  vmac_xmit_base\n", false, false},
		{"ipv6", "  use_vmac\n", true, false},
		{"vip_option", "", false, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			type result struct{ before, master, again, fault, after, adverts, garps, eth0, ll string }
			res := map[string]*result{}
			for _, kind := range []string{"keepalived", "lvsd"} {
				r := &result{}
				res[kind] = r
				l := newVRRPLab(t, "d", "c")
				l.sh("ip netns exec %s sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth0.arp_ignore=0 net.ipv4.conf.eth0.arp_filter=0", l.ns("d"))
				r.eth0 = l.mac("d")
				if out := l.sh("ip -n %s -6 -o addr show dev eth0 scope link", l.ns("d")); strings.Contains(out, "fe80::") {
					r.ll = strings.Fields(out[strings.Index(out, "fe80::"):])[0]
				}
				r.before = vmacNetState(l, "d", "vrrp.51")
				capt := startRawCapture(t, l, "c")
				c := vrrpConf{priority: 100, version: 3, interval: "0.2", extra: v.extra, ipv6: v.ipv6}
				if v.vipOption {
					c.raw = strings.Replace(c.render(), labVIP+"/24\n", labVIP+"/24 use_vmac\n", 1)
				}
				d := l.start(kind, "d", c)
				vip := labVIP
				if v.ipv6 {
					vip = labVIP6
				}
				labtest.WaitFor(t, kind+" master with the VIP on vrrp.51", 15*time.Second, func() bool {
					out, err := exec.Command("ip", "-n", l.ns("d"), "-o", "addr", "show", "dev", "vrrp.51").CombinedOutput()
					return err == nil && strings.Contains(string(out), " "+vip+"/")
				})
				time.Sleep(time.Second) // adverts and the GARP burst
				r.master = vmacNetState(l, "d", "vrrp.51")
				r.adverts, r.garps = wireFrom(capt.stop())
				// Deleted under the daemon: keepalived makes it again
				// (recreate_vmac_thread) and its instance goes through
				// FAULT and BACKUP back to MASTER with the VIP on it;
				// lvsd stays MASTER and puts the VIP back at once. Over
				// IPv6 keepalived 2.2.7 makes it again but cannot join
				// the group on it ("bind for multicast failed") and
				// stays in FAULT: lvsd comes back (documented).
				l.sh("ip -n %s link del vrrp.51", l.ns("d"))
				start := time.Now()
				stuck := kind == "keepalived" && v.ipv6
				if kind == "keepalived" && v.vipOption {
					// keepalived 2.2.7 does not make an address's VMAC
					// again: the instance stays in FAULT (documented).
					time.Sleep(time.Second)
					if _, err := exec.Command("ip", "-n", l.ns("d"), "link", "show", "dev", "vrrp.51").CombinedOutput(); err == nil {
						t.Logf("keepalived made the address's VMAC again")
					}
				} else {
					labtest.WaitFor(t, kind+" made vrrp.51 again, MASTER with the VIP on it", 20*time.Second, func() bool {
						out, err := exec.Command("ip", "-n", l.ns("d"), "-o", "addr", "show", "dev", "vrrp.51").CombinedOutput()
						return err == nil && (stuck || strings.Contains(string(out), " "+vip+"/"))
					})
					if stuck {
						t.Logf("%s: vrrp.51 deleted, made again in %v (the instance stays in FAULT)", kind, time.Since(start).Round(10*time.Millisecond))
					} else {
						t.Logf("%s: vrrp.51 deleted, back with the VIP in %v", kind, time.Since(start).Round(10*time.Millisecond))
					}
				}
				time.Sleep(300 * time.Millisecond)
				r.again = vmacNetState(l, "d", "vrrp.51")
				// FAULT (the parent down): neither daemon sets the VMAC
				// down (it only loses its carrier with the parent).
				l.sh("ip -n %s link set eth0 down", l.ns("d"))
				labtest.WaitFor(t, kind+" in FAULT without the VIP", 20*time.Second, func() bool {
					out, _ := exec.Command("ip", "-n", l.ns("d"), "-o", "addr", "show", "dev", "vrrp.51").CombinedOutput()
					return !strings.Contains(string(out), " "+vip+"/")
				})
				time.Sleep(300 * time.Millisecond)
				r.fault = vmacNetState(l, "d", "vrrp.51")
				l.sh("ip -n %s link set eth0 up", l.ns("d"))
				d.signal(t, syscall.SIGTERM)
				r.after = vmacNetState(l, "d", "vrrp.51")
				switch {
				case r.after == r.before:
				case kind == "lvsd":
					t.Errorf("lvsd left changes behind after SIGTERM:\n%s", diffLines(r.before, r.after))
				default:
					// keepalived 2.2.7 leaves the parent's arp_ignore
					// and arp_filter at 1 (docs/compatibility.md).
					t.Logf("keepalived left changes behind after SIGTERM:\n%s", diffLines(r.before, r.after))
				}
			}
			k, l := res["keepalived"], res["lvsd"]
			// Each lab's eth0 has its own link-local address.
			for _, r := range []*result{k, l} {
				if r.ll != "" {
					r.master = strings.ReplaceAll(r.master, r.ll, "ETH0-LINK-LOCAL")
					r.again = strings.ReplaceAll(r.again, r.ll, "ETH0-LINK-LOCAL")
					r.fault = strings.ReplaceAll(r.fault, r.ll, "ETH0-LINK-LOCAL")
				}
			}
			if k.master != l.master {
				t.Errorf("as MASTER, the VMAC, addresses or sysctls differ:\n%s", diffLines(k.master, l.master))
			} else {
				t.Logf("as MASTER, %d lines agree:\n%s", strings.Count(k.master, "\n")+1, k.master)
			}
			if k.again != l.again && !v.ipv6 && !v.vipOption {
				t.Errorf("after vrrp.51 was deleted and made again, the VMAC, addresses or sysctls differ:\n%s", diffLines(k.again, l.again))
			}
			if k.fault != l.fault && !v.ipv6 && !v.vipOption {
				t.Errorf("in FAULT (eth0 down), the VMAC, addresses or sysctls differ:\n%s", diffLines(k.fault, l.fault))
			} else if !strings.Contains(l.fault, ",UP,") && !strings.Contains(l.fault, "<BROADCAST,MULTICAST,UP") {
				t.Errorf("lvsd set vrrp.51 down in FAULT:\n%s", l.fault)
			}
			// The adverts' source MAC: the VMAC's, or (xmit_base) each
			// lab's own eth0, whose MACs differ.
			norm := func(r *result, s string) string { return strings.ReplaceAll(s, r.eth0, "ETH0") }
			if norm(k, k.adverts) != norm(l, l.adverts) || k.adverts == "" {
				t.Errorf("adverts' source MAC: keepalived %q, lvsd %q", norm(k, k.adverts), norm(l, l.adverts))
			} else {
				t.Logf("adverts from %s", norm(l, l.adverts))
			}
			if k.garps != l.garps || k.garps == "" {
				t.Errorf("gratuitous ARPs: keepalived %q, lvsd %q", k.garps, l.garps)
			} else {
				t.Logf("gratuitous ARPs: %s", l.garps)
			}
			want := "00:00:5e:00:01:33"
			switch {
			case v.name == "vmac_xmit_base", v.vipOption:
				want = "ETH0"
			case v.ipv6:
				want = "00:00:5e:00:02:33"
			}
			if got := norm(l, l.adverts); got != want {
				t.Errorf("lvsd's adverts come from %q, want %s", got, want)
			}
			if !strings.Contains(l.master, "macvlan mode private") || !strings.Contains(l.master, "link/ether "+strings.Replace(want, "ETH0", "00:00:5e:00:01:33", 1)) {
				t.Errorf("lvsd's vrrp.51 is not a private macvlan with the VRRP MAC:\n%s", l.master)
			}
		})
	}
}

// TestUseVMACCheckConfigMatchesKeepalived: `lvsd check-config` fails exactly
// where `keepalived -t` (2.2.7) does on use_vmac, vmac_xmit_base,
// use_vmac_addr and the use_vmac address option, in a namespace whose eth0
// and eth1 are Ethernet (keepalived -t refuses a VMAC on anything else).
func TestUseVMACCheckConfigMatchesKeepalived(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace lab")
	}
	labtest.NeedBinary(t, "keepalived")
	ns := labtest.NewNetns(t, "vmk")
	ns.MustIP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	self, _ := os.Executable()
	dir := t.TempDir()
	for i, body := range []string{
		"use_vmac", "use_vmac vm1 02:01:02:03:04", "use_vmac 02:01:02:03:04:05 vm1",
		"vmac_xmit_base", "use_vmac\n vmac_xmit_base",
		"use_vmac 01:01:02:03:04:05", "use_vmac 00:00:5e:00:01:05", "use_vmac a/b", "use_vmac vm1 vm2",
		"use_vmac 02:01:02:03:04:05 02:01:02:03:04:06", "strict_mode on\n use_vmac 02:01:02:03:04:05",
		"strict_mode on\n use_vmac\n vmac_xmit_base", "use_vmac_addr", "use_vmac\n use_vmac_addr",
	} {
		for _, vip := range []string{"10.1.0.1/24 dev eth1 use_vmac", "10.0.0.2/24 use_vmac", "10.0.0.3/24"} {
			conf := filepath.Join(dir, fmt.Sprintf("%d-%d.conf", i, len(vip)))
			src := fmt.Sprintf("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n %s\n virtual_ipaddress {\n 10.0.0.1/24\n %s\n }\n}\n", body, vip)
			if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			kOut, kErr := ns.Command("keepalived", "-t", "-f", conf).CombinedOutput()
			lc := ns.Command(self, "check-config", "-f", conf)
			lc.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
			lOut, lErr := lc.CombinedOutput()
			if (kErr == nil) != (lErr == nil) {
				t.Errorf("%q, VIP %q: keepalived -t ok=%v, lvsd check-config ok=%v\nkeepalived:\n%s\nlvsd:\n%s", body, vip, kErr == nil, lErr == nil, kOut, lOut)
			}
		}
	}
}

// TestUseVMACPairWithKeepalived: lvsd and keepalived 2.2.7 both with use_vmac
// on one segment, each way round: the backup hears the master's adverts
// on its own VMAC (a private macvlan delivers multicast whose source is
// its own MAC, the virtual router's, to it alone), so there is exactly one
// master; after the master's SIGTERM (priority 0 advert) the backup takes
// over at once.
func TestUseVMACPairWithKeepalived(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace lab")
	}
	labtest.NeedBinary(t, "keepalived")
	vmacVIP := func(l *vrrpLab, h string) bool {
		out, err := exec.Command("ip", "-n", l.ns(h), "-o", "addr", "show", "dev", "vrrp.51").CombinedOutput()
		return err == nil && strings.Contains(string(out), " "+labVIP+"/")
	}
	for _, kinds := range [][2]string{{"lvsd", "keepalived"}, {"keepalived", "lvsd"}} {
		t.Run(kinds[0]+"-master", func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "d1", "d2")
			conf := func(prio int) vrrpConf {
				return vrrpConf{priority: prio, version: 3, interval: "0.2", extra: "  use_vmac\n"}
			}
			d2 := l.start(kinds[1], "d2", conf(90))
			d1 := l.start(kinds[0], "d1", conf(100))
			l.waitFor("the higher priority is master on its VMAC", 15*time.Second, func() bool { return vmacVIP(l, "d1") && !vmacVIP(l, "d2") })
			l.holds("exactly one master", 2*time.Second, func() bool { return vmacVIP(l, "d1") && !vmacVIP(l, "d2") })
			d1.signal(t, syscall.SIGTERM)
			took := l.waitFor("the backup takes over after SIGTERM", 5*time.Second, func() bool { return vmacVIP(l, "d2") })
			// A priority 0 advert: skew time (90) = 0.2 s * 166/256.
			if took > time.Second {
				t.Errorf("takeover after SIGTERM took %s: the backup did not hear the priority 0 advert on its VMAC", took)
			}
			t.Logf("%s took over in %s", kinds[1], took.Round(time.Millisecond))
			d2.signal(t, syscall.SIGTERM)
		})
	}
}
