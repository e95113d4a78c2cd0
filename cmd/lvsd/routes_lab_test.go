package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

const routesGlobal = `
track_file fault {
  file %s
  weight 0
}
static_ipaddress {
  10.77.0.1/24 dev eth0 scope link
  fd77::1/64 dev eth0
  fd77::2/64 dev eth0 -nodad
  10.77.5.1/32
}
static_routes {
  10.78.0.0/24 via 10.9.0.254 dev eth0 table 100 metric 5
  blackhole 10.79.0.0/24
  192.0.2.0/24 dev eth0 scope link src 10.9.0.1 protocol static no_track
  fd78::/64 via fd77::fe dev eth0 table 100
}
static_rules {
  from 10.9.0.0/24 table 100 priority 100
  to 10.80.0.0/16 lookup main priority 101
  fwmark 5/0xff table 101 priority 102
  from fd77::/64 table 100 priority 103
}
`

const routesInstance = `  track_file {
    fault
  }
  virtual_routes {
    10.81.0.0/24 via 10.9.0.254 dev eth0 table 200
    unreachable 10.82.0.0/24 table 200
    10.83.0.0/24 dev eth0 src 10.9.0.100 metric 7
    prohibit 10.84.0.0/24 no_track
  }
  virtual_rules {
    from 10.9.0.100 table 200 priority 200
    iif eth0 to 10.85.0.0/24 prohibit priority 201
    not from 10.86.0.0/24 lookup 200 priority 202 no_track
    to 10.87.0.0/24 goto 300 priority 203
  }
  virtual_ipaddress_excluded {
    fd09::100/64
    fd09::101/64 -nodad
  }
`

// netState is what a namespace's routes, rules and addresses look like,
// without what differs between two namespaces built alike (MACs,
// link-local addresses, lifetimes, interface indexes).
func netState(l *vrrpLab, h string) string {
	var lines []string
	drop := regexp.MustCompile(`fe80::|ff00::/8|multicast ff00`)
	lft := regexp.MustCompile(`\s+(valid_lft|preferred_lft) \S+`)
	idx := regexp.MustCompile(`^\d+: `)
	for _, cmd := range []string{"ip -4 route show table all", "ip -6 route show table all", "ip -4 rule show", "ip -6 rule show", "ip -o addr show dev eth0"} {
		out := l.sh("ip netns exec %s %s", l.ns(h), cmd)
		for _, ln := range strings.Split(out, "\n") {
			ln = strings.TrimSpace(lft.ReplaceAllString(idx.ReplaceAllString(ln, ""), ""))
			ln = strings.ReplaceAll(ln, "\\", "")
			if ln == "" || drop.MatchString(ln) {
				continue
			}
			lines = append(lines, cmd[3:5]+" "+strings.Join(strings.Fields(ln), " "))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func diffLines(a, b string) string {
	as, bs := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		as[l] = true
	}
	for _, l := range strings.Split(b, "\n") {
		bs[l] = true
	}
	var d []string
	for l := range as {
		if !bs[l] {
			d = append(d, "keepalived only: "+l)
		}
	}
	for l := range bs {
		if !as[l] {
			d = append(d, "lvsd only:       "+l)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// TestRoutesMatchKeepalived: keepalived 2.2.7 and lvsd, each in a
// namespace of its own built alike, run the same configuration with
// static_ipaddress (one without dev: the default interface, eth0),
// static_routes, static_rules, virtual_routes,
// virtual_rules and IPv6 addresses with and without -nodad. The routes
// (all tables), rules and addresses are the same in both: before start,
// as MASTER, in FAULT (virtual ones gone, static ones kept) and after
// SIGTERM (static ones gone too).
func TestRoutesMatchKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	type side struct {
		kind  string
		lab   *vrrpLab
		fault string
		d     *daemonProc
	}
	var sides []*side
	for _, kind := range []string{"keepalived", "lvsd"} {
		s := &side{kind: kind, lab: newVRRPLab(t, "d"), fault: filepath.Join(t.TempDir(), "fault")}
		// The configured gateways must be reachable for the kernel to
		// take the routes.
		s.lab.sh("ip netns exec %s sysctl -qw net.ipv6.conf.eth0.accept_dad=0", s.lab.ns("d"))
		sides = append(sides, s)
	}
	snap := func(step string) {
		t.Helper()
		k, l := netState(sides[0].lab, "d"), netState(sides[1].lab, "d")
		if k != l {
			t.Errorf("%s: routes, rules or addresses differ:\n%s", step, diffLines(k, l))
		} else {
			t.Logf("%s: %d lines of routes, rules and addresses agree", step, strings.Count(k, "\n")+1)
		}
	}
	before := netState(sides[0].lab, "d")
	snap("before start")
	for _, s := range sides {
		s.d = s.lab.start(s.kind, "d", vrrpConf{priority: 100, version: 3, interval: "0.2",
			global: fmt.Sprintf(routesGlobal, s.fault), extra: routesInstance})
	}
	for _, s := range sides {
		labtest.WaitFor(t, s.kind+" becomes master with its virtual routes", 10*time.Second, func() bool {
			return s.lab.hasVIP("d") && strings.Contains(netState(s.lab, "d"), "10.83.0.0/24")
		})
	}
	time.Sleep(300 * time.Millisecond)
	snap("MASTER")
	for _, s := range sides {
		if err := os.WriteFile(s.fault, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sides {
		labtest.WaitFor(t, s.kind+" in FAULT, virtual routes gone", 10*time.Second, func() bool {
			return !s.lab.hasVIP("d") && !strings.Contains(netState(s.lab, "d"), "10.83.0.0/24")
		})
	}
	time.Sleep(300 * time.Millisecond)
	snap("FAULT")
	for _, s := range sides {
		s.d.signal(t, syscall.SIGTERM)
	}
	snap("after SIGTERM")
	if after := netState(sides[1].lab, "d"); after != before {
		t.Errorf("lvsd left changes behind after SIGTERM:\n%s", diffLines(before, after))
	}
}
