package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestDemo is `make demo` with fewer terminals: the same scenario in the
// lab VM, failing when any claim the demo prints does not hold.
func TestDemo(t *testing.T) {
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "qemu-system-x86_64")
	root := labtest.RepoRoot(t)
	bin := filepath.Join(root, ".lab", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	lvsd := filepath.Join(bin, fmt.Sprintf("demo-lvsd-%d", os.Getpid()))
	demo := filepath.Join(bin, fmt.Sprintf("demo-%d", os.Getpid()))
	for out, pkg := range map[string]string{lvsd: "./cmd/lvsd", demo: "./scripts/demo"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = root
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
		defer os.Remove(out)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "lab.sh"), demo, "run", "--lvsd", lvsd,
		"--config", filepath.Join(root, "configs", "demo.conf"), "--terminals", "400")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("demo output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "DEMO OK") {
		t.Fatalf("the demo failed: %v", err)
	}
}
