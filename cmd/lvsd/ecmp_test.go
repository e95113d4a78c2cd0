package main

// The shipped BGP speaker configurations (configs/bird-lvsd.conf,
// configs/frr-lvsd.conf) and internal/announce's netlink side against a
// real BIRD 2, in network namespaces on the host (no IPVS needed):
// a route lvsd adds reaches the router over BGP, a route it deletes is
// withdrawn there at once. TestVMECMP (ecmp_lab_test.go) runs the whole
// data path in the lab VM.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/vishvananda/netlink"
)

func TestBirdLVSDConfigParses(t *testing.T) {
	bird := labtest.NeedBinary(t, "bird")
	conf := filepath.Join(labtest.RepoRoot(t), "configs", "bird-lvsd.conf")
	if out, err := exec.Command(bird, "-p", "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("bird -p -c %s: %v\n%s", conf, err, out)
	}
	// The check can fail: a broken copy is refused.
	b, _ := os.ReadFile(conf)
	bad := filepath.Join(t.TempDir(), "bad.conf")
	_ = os.WriteFile(bad, []byte(strings.Replace(string(b), "learn;", "learn everything;", 1)), 0o644)
	if err := exec.Command(bird, "-p", "-c", bad).Run(); err == nil {
		t.Error("bird -p accepts a broken configuration: the check above proves nothing")
	}
}

func TestFRRLVSDConfigParses(t *testing.T) {
	vtysh := labtest.NeedBinary(t, "vtysh")
	conf := filepath.Join(labtest.RepoRoot(t), "configs", "frr-lvsd.conf")
	if out, err := exec.Command(vtysh, "--dryrun", "-f", conf).CombinedOutput(); err != nil || strings.Contains(string(out), "Unknown command") {
		t.Fatalf("vtysh --dryrun -f %s: %v\n%s", conf, err, out)
	}
	b, _ := os.ReadFile(conf)
	bad := filepath.Join(t.TempDir(), "bad.conf")
	_ = os.WriteFile(bad, []byte(strings.Replace(string(b), "redistribute table 200", "redistribute tables 200", 1)), 0o644)
	if err := exec.Command(vtysh, "--dryrun", "-f", bad).Run(); err == nil {
		t.Error("vtysh --dryrun accepts a broken configuration: the check above proves nothing")
	}
}

// TestAnnounceThroughBIRD: announce.Netlink in a director namespace, the
// shipped BIRD configuration there, a BIRD router with a BGP session to
// it. The route reaches the router, a withdraw removes it, and a second
// Announcer (a restarted lvsd) adopts the route without a flap.
func TestAnnounceThroughBIRD(t *testing.T) {
	labtest.NeedRoot(t)
	bird := labtest.NeedBinary(t, "bird")
	const r, d = "ecb-r", "ecb-d1"
	cleanup := func() {
		_ = exec.Command("sh", "-c", `for n in $(ip netns list | awk '/^ecb-/ {print $1}'); do ip netns pids $n | xargs -r kill -9; ip netns del $n; done
ip link del ecb-br 2>/dev/null; ip link del ecb-r 2>/dev/null; ip link del ecb-d1 2>/dev/null`).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	ecSh(t, "ip link add ecb-br type bridge && ip link set ecb-br up")
	for ns, addr := range map[string]string{r: "10.80.0.1", d: "10.80.0.11"} {
		ecSh(t, fmt.Sprintf("ip netns add %[1]s && ip link add %[1]s type veth peer name eth0 netns %[1]s && ip link set %[1]s master ecb-br up && "+
			"ip -n %[1]s link set lo up && ip -n %[1]s addr add %[2]s/24 dev eth0 && ip -n %[1]s link set eth0 up", ns, addr))
	}
	dir := t.TempDir()
	start := func(ns, conf string) {
		path := filepath.Join(dir, ns+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", ns, bird, "-f", "-c", path, "-s", filepath.Join(dir, ns+".ctl"), "-P", filepath.Join(dir, ns+".pid"))
		log := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("bird in %s:\n%s", ns, log.String())
			}
		})
	}
	router := strings.Replace(ecRouterBird(), "protocol bgp d2", "#", -1)
	router = strings.Replace(router, "protocol bgp d3", "#", -1)
	start(r, router)
	start(d, ecDirectorBird(t, 1))

	vip := netip.MustParsePrefix("10.82.0.1/32")
	atRouter := func() bool {
		found := false
		_ = labtest.InNetns(r, func() error {
			rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: &net.IPNet{IP: vip.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}}, netlink.RT_FILTER_DST)
			found = len(rs) > 0
			return err
		})
		return found
	}
	set := func(a *announce.Announcer, ps ...netip.Prefix) []announce.Change {
		var ch []announce.Change
		if err := labtest.InNetns(d, func() (err error) { ch, err = a.Set(ps); return err }); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	os := announce.Netlink{Table: 200, Protocol: 200}
	a := announce.New(os, nil)
	// The session first (the announcement then travels at once).
	labtest.WaitFor(t, "BGP session up", 30*time.Second, func() bool {
		out, _ := exec.Command("birdc", "-s", filepath.Join(dir, r+".ctl"), "show", "protocols", "d1").CombinedOutput()
		return strings.Contains(string(out), "Established")
	})
	set(a, vip)
	took := labtest.WaitFor(t, "the route at the router", 10*time.Second, atRouter)
	t.Logf("announce reached the router after %s", took.Round(time.Millisecond))

	// A restarted lvsd adopts it: no change, the route stays.
	b := announce.New(os, nil)
	var adopted []netip.Prefix
	_ = labtest.InNetns(d, func() (err error) { adopted, err = b.Adopt(); return err })
	if len(adopted) != 1 || adopted[0] != vip {
		t.Errorf("Adopt = %v, want [%s]", adopted, vip)
	}
	if ch := set(b, vip); len(ch) != 0 {
		t.Errorf("re-adopting changed routes: %v", ch)
	}

	set(b)
	took = labtest.WaitFor(t, "the withdraw at the router", 10*time.Second, func() bool { return !atRouter() })
	t.Logf("withdraw reached the router after %s", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("withdraw took %s to reach the router, want under 1 s", took)
	}
}
