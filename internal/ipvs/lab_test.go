package ipvs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestLab boots the real-kernel lab once and runs every TestVM* test in it.
// With -update-netlink it runs only TestVMNetlinkFixtures, which then
// rewrites the netlink fixtures.
func TestLab(t *testing.T) {
	if *updateNetlink && !labtest.InVM() {
		updateNetlinkFixtures(t)
		return
	}
	labtest.RunVMTests(t)
}

// countingKernel counts netlink writes against the real kernel.
type countingKernel struct {
	Kernel
	writes int
}

// Write counts each op of a batch as a write, as the syncer does.
func (c *countingKernel) Write(ops []Op) []error {
	c.writes += len(ops)
	return c.Kernel.Write(ops)
}

func realKernel(t *testing.T) *countingKernel {
	t.Helper()
	labtest.RequireVM(t)
	k, err := NewNetlink()
	if err != nil {
		t.Fatal(err)
	}
	flushKernel(t)
	t.Cleanup(func() { flushKernel(t) })
	return &countingKernel{Kernel: k}
}

func flushKernel(t *testing.T) {
	if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -C: %v %s", err, out)
	}
}

// ipvsadmSave is the second witness: ipvsadm's own dump, sorted.
func ipvsadmSave(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-S", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Sn: %v %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// matrixConfig has one service per forwarding method x scheduler x kind.
func matrixConfig() (string, int) {
	methods := []string{"NAT", "DR", "TUN"}
	scheds := []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}
	var b strings.Builder
	n := 0
	for mi, m := range methods {
		for si, s := range scheds {
			n4 := fmt.Sprintf("10.%d.%d", 100+mi, si)
			rsPort := func(p int) int {
				if m == "NAT" {
					return p + 1000 // NAT may remap ports
				}
				return p
			}
			// TCP, UDP and SCTP by address and port.
			for pi, proto := range []string{"TCP", "UDP", "SCTP"} {
				port := 80 + pi
				fmt.Fprintf(&b, "virtual_server %s.1 %d {\n lvs_sched %s\n lvs_method %s\n protocol %s\n real_server %s.10 %d {\n  weight %d\n }\n real_server %s.11 %d {\n  weight 0\n }\n}\n",
					n4, port, s, m, proto, n4, rsPort(port), si+1, n4, rsPort(port))
				n++
			}
			// IPv6.
			fmt.Fprintf(&b, "virtual_server 2001:db8:%x:%x::1 80 {\n protocol TCP\n lvs_sched %s\n lvs_method %s\n real_server 2001:db8:%x:%x::10 %d {\n  weight 3\n }\n}\n",
				mi, si, s, m, mi, si, rsPort(80))
			n++
			// fwmark, with persistence.
			fmt.Fprintf(&b, "virtual_server fwmark %d {\n lvs_sched %s\n lvs_method %s\n persistence_timeout 60\n real_server %s.20 {\n  weight 2\n }\n}\n",
				1000+mi*100+si, s, m, n4)
			n++
			// A group with an address range.
			fmt.Fprintf(&b, "virtual_server_group G%d_%d {\n %s.30-31 8080\n}\nvirtual_server group G%d_%d {\n protocol TCP\n lvs_sched %s\n lvs_method %s\n real_server %s.40 %d {\n  weight 1\n }\n}\n",
				mi, si, n4, mi, si, s, m, n4, rsPort(8080))
			n += 2
		}
	}
	return b.String(), n
}

func TestVMMatrixMatchesDesiredTable(t *testing.T) {
	k := realKernel(t)
	src, n := matrixConfig()
	desired := DesiredTable(labtest.Config(t, src), nil)
	if len(desired) != n {
		t.Fatalf("desired has %d services, want %d", len(desired), n)
	}
	s := NewSyncer(k, nil, "", false)
	start := time.Now()
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatalf("cold sync: %v", err)
	}
	t.Logf("cold sync of %d services: %d writes in %s", n, k.writes, time.Since(start))
	observed, err := ReadTable(k)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := observed.SaveFormat(), desired.SaveFormat(); got != want {
		t.Errorf("kernel (via lvsd's dump reader) differs from desired:\n%s", lineDiff(want, got))
	}
	if got, want := ipvsadmSave(t), desired.SaveFormat(); got != want {
		t.Errorf("kernel (via ipvsadm -Sn) differs from desired:\n%s", lineDiff(want, got))
	}
	k.writes = 0
	if _, err := s.Reconcile(desired); err != nil || k.writes != 0 {
		t.Errorf("no-op reconcile against the kernel: %d writes, err %v", k.writes, err)
	}
}

func TestVMReloadRepairStop(t *testing.T) {
	k := realKernel(t)
	src, err := os.ReadFile("../../testdata/ipvs/dr-wrr.conf")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSyncer(k, nil, filepath.Join(t.TempDir(), "owned.json"), false)
	if _, err := s.Reconcile(DesiredTable(labtest.Config(t, string(src)), nil)); err != nil {
		t.Fatal(err)
	}
	// A foreign service that lvsd must leave alone.
	if out, err := exec.Command("ipvsadm", "-A", "-t", "192.0.2.1:22", "-s", "rr").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// One weight change: one write, DR kept.
	changed := strings.Replace(string(src), "weight 12", "weight 11", 1)
	k.writes = 0
	if _, err := s.Reconcile(DesiredTable(labtest.Config(t, changed), nil)); err != nil || k.writes != 1 {
		t.Fatalf("weight change: %d writes, err %v", k.writes, err)
	}
	if save := ipvsadmSave(t); !strings.Contains(save, "-a -t 10.10.0.1:5000 -r 10.20.0.2:5000 -g -w 11\n") {
		t.Errorf("weight change not applied or method lost:\n%s", save)
	}
	// A destination deleted by hand comes back on the next reconcile.
	if out, err := exec.Command("ipvsadm", "-d", "-t", "10.10.0.1:5000", "-r", "10.20.0.1:5000").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	k.writes = 0
	if _, err := s.Reconcile(DesiredTable(labtest.Config(t, changed), nil)); err != nil || k.writes != 1 {
		t.Fatalf("repair: %d writes, err %v", k.writes, err)
	}
	if err := s.Stop(StopRemoveOwn); err != nil {
		t.Fatal(err)
	}
	if save := ipvsadmSave(t); save != "-A -t 192.0.2.1:22 -s rr\n" {
		t.Errorf("after stop, want only the foreign service, got:\n%s", save)
	}
}

// TestVMKeepalivedDifferential loads each testdata/ipvs config with
// keepalived -C and with lvsd's syncer, and compares the kernel tables.
func TestVMKeepalivedDifferential(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	confs, _ := filepath.Glob("../../testdata/ipvs/*.conf")
	if len(confs) < 5 {
		t.Fatalf("want the seed configs in testdata/ipvs, found %d", len(confs))
	}
	for _, conf := range confs {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			abs, _ := filepath.Abs(conf)
			src, _ := os.ReadFile(abs)
			_, kTable, lTable := tablesOfBoth(t, keepalived, abs, string(src))
			if kTable != lTable {
				t.Errorf("keepalived and lvsd program different tables:\n%s", lineDiff(kTable, lTable))
			}
			t.Logf("identical tables (%d lines)", strings.Count(lTable, "\n"))
		})
	}
}

// waitForTable polls ipvsadm until the table holds n services and stays the
// same for half a second.
// tablesOfBoth programs the configuration at path (whose text is src)
// with keepalived 2.2.7's checker process, reads the kernel's table, then
// with lvsd's syncer, and returns lvsd's desired table and both readings
// (ipvsadm -Sn).
func tablesOfBoth(t *testing.T, keepalived, path, src string) (desired Table, kTable, lTable string) {
	t.Helper()
	k := realKernel(t)
	desired = DesiredTable(labtest.Config(t, src), nil)
	pid := filepath.Join(t.TempDir(), "k.pid")
	cmd := exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kTable = waitForTable(t, len(desired))
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	flushKernel(t)
	if _, err := NewSyncer(k, nil, "", false).Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	return desired, kTable, ipvsadmSave(t)
}

func waitForTable(t *testing.T, n int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, stableSince := "", time.Now()
	for time.Now().Before(deadline) {
		cur := ipvsadmSave(t)
		if cur != last {
			last, stableSince = cur, time.Now()
		}
		if strings.Count(cur, "-A ") >= n && time.Since(stableSince) > 500*time.Millisecond {
			return cur
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("keepalived did not program %d services in 30s; table:\n%s", n, last)
	return ""
}

func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if l != "" && !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if l != "" && !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
