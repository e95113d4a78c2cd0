package realserver

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

type fakeSys struct {
	sysctls map[string]string
	addrs   map[string]bool
}

func newFake() *fakeSys {
	return &fakeSys{sysctls: map[string]string{
		"net.ipv4.conf.all.arp_ignore": "0", "net.ipv4.conf.all.arp_announce": "0",
		"net.ipv4.conf.lo.arp_ignore": "1", "net.ipv4.conf.lo.arp_announce": "0",
	}, addrs: map[string]bool{"lo|10.0.0.9/32": true}}
}

func (f *fakeSys) GetSysctl(n string) (string, error) { return f.sysctls[n], nil }
func (f *fakeSys) SetSysctl(n, v string) error        { f.sysctls[n] = v; return nil }
func (f *fakeSys) HasAddr(d string, p netip.Prefix) (bool, error) {
	return f.addrs[d+"|"+p.String()], nil
}
func (f *fakeSys) AddAddr(d string, p netip.Prefix) error {
	f.addrs[d+"|"+p.String()] = true
	return nil
}
func (f *fakeSys) DelAddr(d string, p netip.Prefix) error {
	delete(f.addrs, d+"|"+p.String())
	return nil
}

func TestUpDownUndoesExactlyWhatUpChanged(t *testing.T) {
	sys := newFake()
	m := &Manager{Sys: sys, StateFile: filepath.Join(t.TempDir(), "rs.json"), Dev: "lo"}
	vips, _ := ParseVIPs([]string{"10.0.0.9,10.0.0.10", "10.0.0.11/32"})
	did, err := m.Up(vips)
	if err != nil {
		t.Fatal(err)
	}
	// lo.arp_ignore was already 1 and 10.0.0.9 already there: not touched.
	if len(did) != 5 {
		t.Errorf("up did %d things, want 5: %v", len(did), did)
	}
	if r, _ := m.Status(vips); !r.Ready {
		t.Errorf("not ready after up: %+v", r)
	}
	// Idempotent.
	if did, _ := m.Up(vips); len(did) != 0 {
		t.Errorf("second up changed %v", did)
	}
	if _, err := m.Down(); err != nil {
		t.Fatal(err)
	}
	want := newFake()
	for k, v := range want.sysctls {
		if sys.sysctls[k] != v {
			t.Errorf("%s = %s after down, want %s", k, sys.sysctls[k], v)
		}
	}
	if len(sys.addrs) != 1 || !sys.addrs["lo|10.0.0.9/32"] {
		t.Errorf("addresses after down: %v, want only the pre-existing 10.0.0.9", sys.addrs)
	}
	if _, err := os.Stat(m.StateFile); !os.IsNotExist(err) {
		t.Errorf("state file left after a complete down")
	}
	if did, _ := m.Down(); len(did) != 0 {
		t.Errorf("second down changed %v", did)
	}
}

// TestRealServerCommandInNamespace runs `lvsd realserver up/status/down`
// for real inside a fresh network namespace and reads the results back
// with ip and sysctl.
func TestRealServerCommandInNamespace(t *testing.T) {
	labtest.NeedRoot(t)
	root := labtest.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "lvsd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lvsd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		labtest.Need(t, false, "build lvsd: %v\n%s", err, out)
	}
	ns := labtest.NewNetns(t, "rs")
	state := filepath.Join(t.TempDir(), "rs.json")
	run := func(args ...string) string {
		t.Helper()
		cmd := ns.Command(bin, append(append([]string{"realserver"}, args...), "--state-file", state)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lvsd realserver %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	sysctl := func(name string) string {
		out, _ := ns.Command("sysctl", "-n", name).Output()
		return strings.TrimSpace(string(out))
	}
	lo := func() string {
		out, _ := ns.Command("ip", "-o", "addr", "show", "dev", "lo").Output()
		return string(out)
	}
	before := map[string]string{}
	for _, w := range Wanted {
		before[w.Name] = sysctl(w.Name)
	}
	t.Log(run("up", "--vip", "192.0.2.10", "--vip", "192.0.2.11"))
	if !strings.Contains(lo(), "192.0.2.10/32") || !strings.Contains(lo(), "192.0.2.11/32") {
		t.Errorf("VIPs not on lo:\n%s", lo())
	}
	for _, w := range Wanted {
		if got := sysctl(w.Name); got != w.Value {
			t.Errorf("%s = %s after up, want %s", w.Name, got, w.Value)
		}
	}
	if out := run("status", "--vip", "192.0.2.10"); !strings.Contains(out, "ready") {
		t.Errorf("status after up:\n%s", out)
	}
	t.Log(run("down"))
	if strings.Contains(lo(), "192.0.2.1") {
		t.Errorf("VIPs left on lo:\n%s", lo())
	}
	for _, w := range Wanted {
		if got := sysctl(w.Name); got != before[w.Name] {
			t.Errorf("%s = %s after down, want the original %s", w.Name, got, before[w.Name])
		}
	}
}
