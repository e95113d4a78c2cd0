package ipvs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

const (
	labVIP     = "192.168.100.10"
	labVIPPort = "5000"
)

// dataPathLab builds, inside the VM: a client namespace on one veth, four
// real-server namespaces on a bridge, and the VM's root namespace as the
// director (IPVS tables are per namespace). DR real servers carry the VIP
// on lo with arp_ignore=1/arp_announce=2.
func dataPathLab(t *testing.T, dr bool) {
	t.Helper()
	labtest.RequireVM(t)
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	cleanup := func() {
		_ = exec.Command("sh", "-c", "for n in cli rs1 rs2 rs3 rs4; do ip netns pids $n 2>/dev/null | xargs -r kill -9; ip netns del $n 2>/dev/null; done; ip link del br-rs 2>/dev/null; ip link del veth-cli 2>/dev/null").Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	// In DR the real servers answer from the VIP through the director,
	// which owns the VIP too: without accept_local it drops those replies
	// as martians.
	sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.accept_local=1 net.ipv4.conf.all.rp_filter=0")
	sh("ip netns add cli && ip link add veth-cli type veth peer name eth0 netns cli")
	sh("ip addr add 192.168.100.1/24 dev veth-cli && ip addr add " + labVIP + "/24 dev veth-cli && ip link set veth-cli up")
	sh("ip -n cli link set lo up && ip -n cli addr add 192.168.100.2/24 dev eth0 && ip -n cli link set eth0 up && ip -n cli route add default via 192.168.100.1")
	sh("ip link add br-rs type bridge && ip addr add 10.20.0.254/24 dev br-rs && ip link set br-rs up")
	sh("sysctl -qw net.ipv4.conf.br-rs.accept_local=1 net.ipv4.conf.br-rs.rp_filter=0")
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("rs%d", i)
		sh(fmt.Sprintf("ip netns add %s && ip link add v%s type veth peer name eth0 netns %s && ip link set v%s master br-rs up", n, n, n, n))
		sh(fmt.Sprintf("ip -n %s link set lo up && ip -n %s addr add 10.20.0.%d/24 dev eth0 && ip -n %s link set eth0 up && ip -n %s route add default via 10.20.0.254", n, n, i, n, n))
		if dr {
			sh(fmt.Sprintf("ip -n %s addr add %s/32 dev lo", n, labVIP))
			sh(fmt.Sprintf("ip netns exec %s sh -c 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2'", n))
		}
		startHelper(t, n, "serve", fmt.Sprint(i), "0.0.0.0:"+labVIPPort)
	}
}

// startHelper runs this test binary as a helper inside namespace ns and
// waits for its "ready" line.
func startHelper(t *testing.T, ns, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd, r := startHelperRaw(t, ns, mode, args...)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper %s in %s did not start: %q %v", mode, ns, line, err)
	}
	return cmd, r
}

// helperCommand runs this binary in helper mode, in namespace ns or, for
// ns "", in the director's (the VM's root) namespace.
func helperCommand(ns, mode string, args ...string) *exec.Cmd {
	self, _ := os.Executable()
	cmd := exec.Command(self, args...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, self}, args...)...)
	}
	cmd.Env = append(os.Environ(), "LVSD_HELPER="+mode)
	return cmd
}

func runHelper(t *testing.T, ns, mode string, out any, args ...string) {
	t.Helper()
	cmd := helperCommand(ns, mode, args...)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("helper %s output %q: %v", mode, b, err)
	}
}

func serviceConfig(method, sched string, weights [4]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s %s {\n lvs_sched %s\n lvs_method %s\n protocol TCP\n", labVIP, labVIPPort, sched, method)
	for i, w := range weights {
		fmt.Fprintf(&b, " real_server 10.20.0.%d %s {\n  weight %d\n }\n", i+1, labVIPPort, w)
	}
	b.WriteString("}\n")
	return b.String()
}

// TestVMDataPathSpread sends 10,000 connections through NAT and DR with wrr
// 16:12:8:0 and rr, and checks each real server's share.
func TestVMDataPathSpread(t *testing.T) {
	for _, method := range []string{"NAT", "DR"} {
		for _, sched := range []string{"wrr", "rr"} {
			t.Run(method+"-"+sched, func(t *testing.T) {
				k := realKernel(t)
				dataPathLab(t, method == "DR")
				weights := [4]int{16, 12, 8, 0}
				if sched == "rr" {
					weights = [4]int{1, 1, 1, 1}
				}
				if _, err := NewSyncer(k, nil, "", false).Reconcile(DesiredTable(labConfig(t, serviceConfig(method, sched, weights)), nil)); err != nil {
					t.Fatal(err)
				}
				const n = 10000
				counts := map[string]int{}
				start := time.Now()
				runHelper(t, "cli", "connect", &counts, labVIP+":"+labVIPPort, fmt.Sprint(n))
				t.Logf("%s %s: %d connections in %s: %v", method, sched, n, time.Since(start).Round(time.Millisecond), counts)
				if counts["error"] != 0 {
					t.Errorf("%d connections failed", counts["error"])
				}
				total := 0
				for _, w := range weights {
					total += w
				}
				for i, w := range weights {
					got := float64(counts[fmt.Sprint(i+1)]) / n * 100
					want := float64(w) / float64(total) * 100
					if math.Abs(got-want) > 2 {
						t.Errorf("real server %d: %.2f%% of connections, want %.2f%% ±2", i+1, got, want)
					}
					if w == 0 && counts[fmt.Sprint(i+1)] != 0 {
						t.Errorf("weight-0 real server got %d connections", counts[fmt.Sprint(i+1)])
					}
				}
			})
		}
	}
}

// TestVMConnectionsSurviveReloadAndRestart holds 500 established
// connections through the director while the process running the syncer
// does a no-op reload, a reload that adds a service, and is killed with -9
// and restarted. No connection may see a reset or a stall.
func TestVMConnectionsSurviveReloadAndRestart(t *testing.T) {
	for _, method := range []string{"NAT", "DR"} {
		t.Run(method, func(t *testing.T) {
			realKernel(t)
			dataPathLab(t, method == "DR")
			dir := t.TempDir()
			conf := filepath.Join(dir, "lvsd.conf")
			state := filepath.Join(dir, "owned.json")
			base := serviceConfig(method, "wrr", [4]int{16, 12, 8, 0})
			if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
				t.Fatal(err)
			}
			// Writes reported by the syncer process, one JSON line per (re)load.
			writes := func(r *bufio.Reader) int {
				t.Helper()
				line, err := r.ReadString('\n')
				var doc struct {
					Writes int    `json:"writes"`
					Error  string `json:"error"`
				}
				if err != nil || json.Unmarshal([]byte(line), &doc) != nil || doc.Error != "" {
					t.Fatalf("syncer process: %q %v", line, err)
				}
				return doc.Writes
			}
			syncer, syncOut := startHelperRaw(t, "", "sync", conf, state)
			if w := writes(syncOut); w != 5 {
				t.Fatalf("cold sync: %d writes, want 5", w)
			}
			holder, holdOut := startHelper(t, "cli", "hold", labVIP+":"+labVIPPort, "500", "10m")

			// 1. A no-op reload: zero writes.
			_ = syncer.Process.Signal(syscall.SIGHUP)
			if w := writes(syncOut); w != 0 {
				t.Errorf("no-op reload: %d writes, want 0", w)
			}
			// 2. A reload that adds a service: two writes (service + destination).
			added := base + "virtual_server 192.168.100.11 6000 {\n protocol TCP\n lvs_method " + method + "\n real_server 10.20.0.1 6000 {\n  weight 1\n }\n}\n"
			if err := os.WriteFile(conf, []byte(added), 0o644); err != nil {
				t.Fatal(err)
			}
			_ = syncer.Process.Signal(syscall.SIGHUP)
			if w := writes(syncOut); w != 2 {
				t.Errorf("reload adding a service: %d writes, want 2", w)
			}
			time.Sleep(time.Second)
			// 3. kill -9 and restart: the new process adopts the table.
			_ = syncer.Process.Signal(syscall.SIGKILL)
			_ = syncer.Wait()
			time.Sleep(time.Second)
			_, syncOut = startHelperRaw(t, "", "sync", conf, state)
			if w := writes(syncOut); w != 0 {
				t.Errorf("restart after kill -9: %d writes, want 0 (adoption)", w)
			}
			time.Sleep(time.Second)
			_ = holder.Process.Signal(syscall.SIGTERM)
			line, _ := holdOut.ReadString('\n')
			var res struct{ Connections, Failed, Rounds int }
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("holder output %q: %v", line, err)
			}
			t.Logf("%s: %d connections, %d failed, %d ping rounds across two reloads and a kill -9 restart", method, res.Connections, res.Failed, res.Rounds)
			if res.Connections != 500 || res.Failed != 0 || res.Rounds < 3 {
				t.Errorf("connections did not survive: %+v", res)
			}
		})
	}
}

// startHelperRaw starts a helper without waiting for a ready line.
func startHelperRaw(t *testing.T, ns, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := helperCommand(ns, mode, args...)
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
