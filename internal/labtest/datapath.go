package labtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The data-path lab's virtual address and port: the client namespace
// reaches it through the director (the VM's root namespace).
const (
	LabVIP     = "192.168.100.10"
	LabVIPPort = "5000"
)

// DataPathLab builds, inside the VM: a client namespace on one veth, four
// real-server namespaces on a bridge, and the VM's root namespace as the
// director (IPVS tables are per namespace). DR real servers carry the VIP
// on lo with arp_ignore=1/arp_announce=2.
func DataPathLab(t *testing.T, dr bool) []*exec.Cmd {
	t.Helper()
	RequireVM(t)
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	// Deleting a namespace tears its devices down asynchronously; the
	// root-side veths are deleted by name and waited for, so that the next
	// lab can create them again.
	cleanup := func() {
		_ = exec.Command("sh", "-c", `for n in cli rs1 rs2 rs3 rs4; do ip netns pids $n 2>/dev/null | xargs -r kill -9; done
for l in veth-cli vrs1 vrs2 vrs3 vrs4 br-rs; do ip link del $l 2>/dev/null; done
for n in cli rs1 rs2 rs3 rs4; do ip netns del $n 2>/dev/null; done
for i in $(seq 50); do ip -o link show | grep -qE ' (veth-cli|vrs[1-4]|br-rs)[@:]' || break; sleep 0.1; done`).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	var servers []*exec.Cmd
	// In DR the real servers answer from the VIP through the director,
	// which owns the VIP too: without accept_local it drops those replies
	// as martians.
	sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.accept_local=1 net.ipv4.conf.all.rp_filter=0")
	sh("ip netns add cli && ip link add veth-cli type veth peer name eth0 netns cli")
	sh("ip addr add 192.168.100.1/24 dev veth-cli && ip addr add " + LabVIP + "/24 dev veth-cli && ip link set veth-cli up")
	sh("ip -n cli link set lo up && ip -n cli addr add 192.168.100.2/24 dev eth0 && ip -n cli link set eth0 up && ip -n cli route add default via 192.168.100.1")
	sh("ip link add br-rs type bridge && ip addr add 10.20.0.254/24 dev br-rs && ip link set br-rs up")
	sh("sysctl -qw net.ipv4.conf.br-rs.accept_local=1 net.ipv4.conf.br-rs.rp_filter=0")
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("rs%d", i)
		sh(fmt.Sprintf("ip netns add %s && ip link add v%s type veth peer name eth0 netns %s && ip link set v%s master br-rs up", n, n, n, n))
		sh(fmt.Sprintf("ip -n %s link set lo up && ip -n %s addr add 10.20.0.%d/24 dev eth0 && ip -n %s link set eth0 up && ip -n %s route add default via 10.20.0.254", n, n, i, n, n))
		if dr {
			sh(fmt.Sprintf("ip -n %s addr add %s/32 dev lo", n, LabVIP))
			sh(fmt.Sprintf("ip netns exec %s sh -c 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2'", n))
		}
		cmd, _ := StartHelper(t, n, "serve", fmt.Sprint(i), "0.0.0.0:"+LabVIPPort)
		servers = append(servers, cmd)
	}
	return servers
}

// StartHelper runs this test binary as a helper inside namespace ns and
// waits for its "ready" line.
func StartHelper(t *testing.T, ns, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd, r := StartHelperRaw(t, ns, mode, args...)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper %s in %s did not start: %q %v", mode, ns, line, err)
	}
	return cmd, r
}

// HelperCommand runs this binary in helper mode, in namespace ns or, for
// ns "", in the director's (the VM's root) namespace.
func HelperCommand(ns, mode string, args ...string) *exec.Cmd {
	self, _ := os.Executable()
	cmd := exec.Command(self, args...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, self}, args...)...)
	}
	cmd.Env = append(os.Environ(), "LVSD_HELPER="+mode)
	return cmd
}

func RunHelperJSON(t *testing.T, ns, mode string, out any, args ...string) {
	t.Helper()
	cmd := HelperCommand(ns, mode, args...)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("helper %s output %q: %v", mode, b, err)
	}
}

// StartHelperRaw starts a helper without waiting for a ready line.
func StartHelperRaw(t *testing.T, ns, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := HelperCommand(ns, mode, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewReader(out)
}
