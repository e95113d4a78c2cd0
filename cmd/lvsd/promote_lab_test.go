package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPromoteSecondariesMatchesKeepalived: keepalived 2.2.7 and lvsd in
// turn on the same director, promote_secondaries in the instance.
// net.ipv4.conf.eth0.promote_secondaries is read before start, as
// MASTER, after a reload that drops the keyword, and after SIGTERM; then
// again with the setting already 1 before start. Both daemons must leave
// the same values at the same steps.
func TestPromoteSecondariesMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	path := fmt.Sprintf("/proc/sys/net/ipv4/conf/%s/promote_secondaries", "eth0")
	read := func() string { return strings.TrimSpace(l.sh("ip netns exec %s cat %s", l.ns("d1"), path)) }
	set := func(v int) { l.sh("ip netns exec %s sh -c 'echo %d > %s'", l.ns("d1"), v, path) }
	with := vrrpConf{priority: 150, version: 3, extra: "  promote_secondaries\n"}.render()
	without := vrrpConf{priority: 150, version: 3}.render()
	seq := map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		for _, initial := range []int{0, 1} {
			set(initial)
			steps := []string{"before " + read()}
			p := l.startRaw(kind, "d1", with, "-P")
			l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
			steps = append(steps, "master "+read())
			if err := os.WriteFile(p.conf, []byte(without), 0o644); err != nil {
				t.Fatal(err)
			}
			_ = p.cmd.Process.Signal(syscall.SIGHUP)
			time.Sleep(3 * time.Second)
			if !l.hasVIP("d1") {
				t.Errorf("%s lost the VIP at the reload", kind)
			}
			steps = append(steps, "reloaded "+read())
			p.signal(t, syscall.SIGTERM)
			steps = append(steps, "stopped "+read())
			seq[kind] = append(seq[kind], strings.Join(steps, ", "))
		}
		t.Logf("%s: %s", kind, strings.Join(seq[kind], "; "))
	}
	if !slices.Equal(seq["keepalived"], seq["lvsd"]) {
		t.Errorf("promote_secondaries differs:\nkeepalived: %q\nlvsd:       %q", seq["keepalived"], seq["lvsd"])
	}
	if want := "before 0, master 1, reloaded 1, stopped 0"; len(seq["lvsd"]) == 0 || seq["lvsd"][0] != want {
		t.Errorf("lvsd from 0: %v, want %q", seq["lvsd"], want)
	}
}
