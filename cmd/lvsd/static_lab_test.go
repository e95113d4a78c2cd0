package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestStaticOnlyMatchesKeepalived: a configuration with static_ipaddress,
// static_routes and static_rules and no vrrp_instance. keepalived 2.2.7
// runs its VRRP process for them alone; lvsd runs its router for them.
// The routes, rules and addresses under each daemon are identical while it
// runs, and gone after SIGTERM under both.
func TestStaticOnlyMatchesKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	type side struct {
		kind string
		lab  *vrrpLab
		d    *daemonProc
	}
	var sides []*side
	for _, kind := range []string{"keepalived", "lvsd"} {
		s := &side{kind: kind, lab: newVRRPLab(t, "d")}
		s.lab.sh("ip netns exec %s sysctl -qw net.ipv6.conf.eth0.accept_dad=0", s.lab.ns("d"))
		sides = append(sides, s)
	}
	before := netState(sides[0].lab, "d")
	// routesGlobal without its track_file (nothing tracks it here).
	global := routesGlobal[strings.Index(routesGlobal, "static_ipaddress"):]
	conf := "global_defs {\n  router_id lab\n}\n" + global
	for _, s := range sides {
		s.d = s.lab.start(s.kind, "d", vrrpConf{raw: conf})
	}
	for _, s := range sides {
		s.lab.waitFor(s.kind+" installs the static routes", 10*time.Second, func() bool {
			return strings.Contains(netState(s.lab, "d"), "10.78.0.0/24")
		})
	}
	time.Sleep(500 * time.Millisecond)
	k, l := netState(sides[0].lab, "d"), netState(sides[1].lab, "d")
	if k != l {
		t.Errorf("running: routes, rules or addresses differ:\n%s", diffLines(k, l))
	}
	if k == before {
		t.Fatalf("keepalived installed nothing")
	}
	for _, s := range sides {
		s.d.signal(t, syscall.SIGTERM)
	}
	for _, s := range sides {
		if got := netState(s.lab, "d"); got != before {
			t.Errorf("%s left static state behind after SIGTERM:\n%s", s.kind, diffLines(before, got))
		}
	}
}
