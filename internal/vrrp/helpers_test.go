package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// fastInstance is a vrrp_instance block as the router tests write it: on
// eth0, priority 100, VRRPv3 every 50 ms, with vip; extra adds lines
// (indented by two spaces, each ending in a newline).
func fastInstance(name string, vrid int, vip, extra string) string {
	return fmt.Sprintf(`vrrp_instance %s {
  interface eth0
  virtual_router_id %d
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    %s
  }
%s}
`, name, vrid, vip, extra)
}

// waitAll waits until every instance of r is in state.
func waitAll(t *testing.T, r *Router, state string) {
	t.Helper()
	labtest.WaitFor(t, "every instance "+state, 3*time.Second, func() bool {
		for _, st := range r.Status() {
			if st.State != state {
				return false
			}
		}
		return true
	})
}

// masterWithSocket waits for r's first instance to be MASTER with its
// socket open, and returns a function that feeds it an advert of
// priority prio from a peer (VRID 1, VRRPv3, 10.0.0.100).
func masterWithSocket(t *testing.T, r *Router, p *fakePlatform) func(prio uint8) {
	t.Helper()
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	labtest.WaitFor(t, "sockets open", time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 1 })
	peer, group := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("224.0.0.18")
	return func(prio uint8) {
		adv := &Advert{Version: 3, VRID: 1, Priority: prio, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
		b, _ := adv.Marshal(peer, group)
		p.conns[0].in <- Received{Payload: b, Src: peer, Dst: group, TTL: 255}
	}
}

// slowNotifyAt100 is slowNotifyConf at priority 100: not the owner, so it
// starts BACKUP and becomes MASTER after the master-down interval.
var slowNotifyAt100 = strings.Replace(slowNotifyConf, "priority 255", "priority 100", 1)
