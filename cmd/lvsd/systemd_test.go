package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestSystemdUnitVerifies runs `systemd-analyze verify` on configs/lvsd.service,
// with /usr/sbin/lvsd pointed at this build (verify checks that it exists).
func TestSystemdUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join(labtest.RepoRoot(t), "configs", "lvsd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "ExecReload=", "CapabilityBoundingSet=", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	verifyUnit(t, "lvsd.service")
	verifyUnit(t, "lvsd-realserver.service")
}

func verifyUnit(t *testing.T, name string) {
	tool := labtest.NeedBinary(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join(labtest.RepoRoot(t), "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	dir := t.TempDir()
	body := strings.ReplaceAll(string(unit), "/usr/sbin/lvsd", self)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", "--man=no", path).CombinedOutput()
	// verify reports unrelated units of the host too; only ours matters.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, name) {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 || err != nil && len(strings.TrimSpace(string(out))) == 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
	}
	t.Logf("systemd-analyze verify: %s", strings.TrimSpace(string(out)))
}
