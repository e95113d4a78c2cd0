package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestAddressDeletedMatchesKeepalived: addresses deleted by hand with `ip
// addr del`, under keepalived 2.2.7 and lvsd in the same run and the same
// namespace. A static address comes back (reinstate_static_address); the
// MASTER's VIP makes it leave MASTER and take it again after its skew time
// (set_vrrp_backup), so the notify FIFO reads MASTER, BACKUP, MASTER; a
// no_track VIP stays deleted. Static routes and rules come back (keepalived
// watches them here only because the instance has a virtual route and a
// virtual rule); a virtual route or rule deleted makes the same
// BACKUP-MASTER turn. Both daemons must write the same lines.
func TestAddressDeletedMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	ns := l.ns("d1")
	const static, untracked = "10.66.0.1", "10.67.0.1"
	dir := t.TempDir()
	got := map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(dir, kind+".fifo")
		conf := fifoLabConf(fifo, fmt.Sprintf(`static_ipaddress {
  %s/24 dev eth0
}
static_routes {
  10.68.0.0/24 dev eth0
}
static_rules {
  from 10.69.0.0/24 table 100 priority 100
}
`, static), "    "+untracked+"/24 no_track\n", `  virtual_routes {
    10.70.0.0/24 dev eth0
  }
  virtual_rules {
    from 10.71.0.0/24 table 101 priority 101
  }
`)
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", conf, "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") && l.hasAddr("d1", untracked) })

		l.sh("ip -n %s addr del %s/24 dev eth0", ns, static)
		took := l.waitFor(kind+": static address restored", 5*time.Second, func() bool { return l.hasAddr("d1", static) })
		t.Logf("%s: static address back after %s", kind, took.Round(time.Millisecond))

		l.sh("ip -n %s route del 10.68.0.0/24 dev eth0", ns)
		took = l.waitFor(kind+": static route restored", 5*time.Second, func() bool {
			return strings.Contains(l.sh("ip -n %s route show 10.68.0.0/24", ns), "10.68.0.0/24 dev eth0")
		})
		t.Logf("%s: static route back after %s", kind, took.Round(time.Millisecond))
		l.sh("ip -n %s rule del from 10.69.0.0/24 table 100 priority 100", ns)
		took = l.waitFor(kind+": static rule restored", 5*time.Second, func() bool {
			return strings.Contains(l.sh("ip -n %s rule show", ns), "from 10.69.0.0/24 lookup 100")
		})
		t.Logf("%s: static rule back after %s", kind, took.Round(time.Millisecond))

		l.sh("ip -n %s addr del %s/24 dev eth0", ns, untracked)
		l.holds(kind+": the no_track VIP stays deleted, no transition", 2*time.Second, func() bool {
			return !l.hasAddr("d1", untracked) && strings.Count(strings.Join(tap.lines(), "\n"), " BACKUP ") == 1
		})

		l.sh("ip -n %s addr del %s/24 dev eth0", ns, labVIP)
		took = l.waitFor(kind+": VIP back", 5*time.Second, func() bool { return l.hasVIP("d1") })
		t.Logf("%s: VIP back after %s", kind, took.Round(time.Millisecond))
		labtest.WaitFor(t, kind+": MASTER again", 5*time.Second, func() bool {
			return strings.Count(strings.Join(tap.lines(), "\n"), " MASTER ") == 2
		})
		if !l.hasAddr("d1", untracked) {
			t.Errorf("%s: the no_track VIP did not come back with the instance's other VIPs", kind)
		}
		virtualRoute := func() bool {
			return strings.Contains(l.sh("ip -n %s route show 10.70.0.0/24", ns), "10.70.0.0/24 dev eth0")
		}
		if !virtualRoute() {
			t.Fatalf("%s: the virtual route is not there as MASTER", kind)
		}
		l.sh("ip -n %s route del 10.70.0.0/24 dev eth0", ns)
		labtest.WaitFor(t, kind+": MASTER again after the virtual route's deletion", 5*time.Second, func() bool {
			return strings.Count(strings.Join(tap.lines(), "\n"), " MASTER ") == 3 && virtualRoute()
		})
		virtualRule := func() bool { return strings.Contains(l.sh("ip -n %s rule show", ns), "from 10.71.0.0/24 lookup 101") }
		l.sh("ip -n %s rule del from 10.71.0.0/24 table 101 priority 101", ns)
		labtest.WaitFor(t, kind+": MASTER again after the virtual rule's deletion", 5*time.Second, func() bool {
			return strings.Count(strings.Join(tap.lines(), "\n"), " MASTER ") == 4 && virtualRule()
		})
		p.signal(t, syscall.SIGTERM)
		got[kind] = tap.close()
		t.Logf("%s: notify_fifo:\n%s", kind, strings.Join(got[kind], "\n"))
		if l.hasAddr("d1", static) {
			t.Errorf("%s: the static address stayed after stop", kind)
		}
	}
	k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n")
	if k != v {
		t.Errorf("notify_fifo differs:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
}

// TestStaticBackWithInterfaceMatchesKeepalived: an interface holding a
// static IPv6 address and a static route goes down (the kernel flushes
// both; the address is put back at once, as any static address deleted)
// and up again. keepalived 2.2.7 adds them again (interface_up →
// static_track_group_reinstate_config), and so must lvsd, in the same run;
// the VRRP instance, on another interface, is left alone by both.
func TestStaticBackWithInterfaceMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	ns := l.ns("d1")
	l.addEth1("d1")
	dir := t.TempDir()
	got := map[string][]string{}
	route := func() bool {
		return strings.Contains(l.sh("ip -n %s route show 10.79.0.0/24", ns), "10.79.0.0/24 dev eth1")
	}
	addr6 := func() bool { return strings.Contains(l.sh("ip -n %s -6 addr show dev eth1", ns), "2001:db8:5::1/64") }
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(dir, kind+".fifo")
		conf := fifoLabConf(fifo, `static_ipaddress {
  2001:db8:5::1/64 dev eth1
}
static_routes {
  10.79.0.0/24 dev eth1
}
`, "", "")
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", conf, "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") && route() && addr6() })
		l.sh("ip -n %s link set eth1 down", ns)
		// The kernel flushes both; the address's deletion (RTM_DELADDR)
		// has it put back at once, on the down interface.
		l.waitFor(kind+": the kernel flushes the route", 3*time.Second, func() bool { return !route() })
		t.Logf("%s: with eth1 down, the static IPv6 address is there: %v", kind, addr6())
		l.sh("ip -n %s link set eth1 up", ns)
		took := l.waitFor(kind+": static route and address back", 5*time.Second, func() bool { return route() && addr6() })
		t.Logf("%s: static route and IPv6 address back %s after eth1 up", kind, took.Round(time.Millisecond))
		time.Sleep(time.Second)
		p.signal(t, syscall.SIGTERM)
		got[kind] = tap.close()
		t.Logf("%s: notify_fifo:\n%s", kind, strings.Join(got[kind], "\n"))
		if route() || addr6() {
			t.Errorf("%s: static route or address left after stop", kind)
		}
	}
	k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n")
	if k != v {
		t.Errorf("notify_fifo differs:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
}

// fifoLabConf is the configuration of the one-director labs compared with
// keepalived: router_id lab, notify_fifo fifo, top (blocks before the
// instance), and VI_1 (VRID 51, VRRPv3, priority 150, state BACKUP, the
// lab VIP and vips, lines each ending in a newline), with extra lines.
func fifoLabConf(fifo, top, vips, extra string) string {
	return fmt.Sprintf(`global_defs {
  router_id lab
  notify_fifo %s
}
%svrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  version 3
  priority 150
  advert_int 1
  virtual_ipaddress {
    %s/24
%s  }
%s}
`, fifo, top, labVIP, vips, extra)
}

// addEth1 gives host a second interface, eth1 (10.77.0.1/24), a veth
// whose peer eth1p stays in the namespace, both up.
func (l *vrrpLab) addEth1(host string) {
	ns := l.ns(host)
	l.sh("ip -n %s link add eth1 type veth peer name eth1p && ip -n %s link set eth1 up && ip -n %s link set eth1p up && ip -n %s addr add 10.77.0.1/24 dev eth1", ns, ns, ns, ns)
}
