// Package labtest holds helpers for integration tests that need root,
// network namespaces or Debian's reference tools. Under CI=true a lab that
// cannot be set up fails the test; elsewhere it skips, so that `go test`
// on a laptop still runs the unit tests.
package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// InCI reports whether the test runs under CI, where skipping is not allowed.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need stops the test when a lab prerequisite is missing: fatal in CI,
// skip elsewhere.
//
// Under -short every lab test skips: `make test` runs the whole suite once
// without -short, then again with -race -short for the unit tests, where
// the race detector's cost would only slow the labs (several boot a VM).
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs in make test's pass without -short")
	}
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("lab prerequisite missing under CI=true: %s", msg)
	}
	t.Skipf("lab prerequisite missing (set CI=true to make this fatal): %s", msg)
}

// NeedRoot requires uid 0.
func NeedRoot(t testing.TB) { Need(t, os.Geteuid() == 0, "must run as root") }

// NeedBinary requires an executable in PATH and returns its path.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, "%s not installed (scripts/setup.sh installs it)", name)
	return p
}

var nsCounter atomic.Int64

// Netns is a network namespace owned by one test.
type Netns struct{ Name string }

// NewNetns creates a namespace with lo up and removes it when the test ends.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	NeedRoot(t)
	NeedBinary(t, "ip")
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), nsCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Need(t, false, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns := &Netns{Name: name}
	ns.MustIP(t, "link", "set", "lo", "up")
	return ns
}

// MustIP runs `ip -n NS args...` and fails the test on error.
func (ns *Netns) MustIP(t testing.TB, args ...string) {
	t.Helper()
	full := append([]string{"-n", ns.Name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// Command returns a command that runs inside the namespace.
func (ns *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// InVM reports whether this process runs inside the lab VM (scripts/lab.sh).
func InVM() bool { return os.Getenv("LVSD_IN_LAB") == "1" }

// RepoRoot finds the module root from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// RunInVM boots the lab VM once and runs this test binary inside it with
// -test.run=pattern, streaming its output into the test log. It fails the
// test if the inner tests fail. Tests that share a boot share a pattern.
func RunInVM(t *testing.T, pattern string, extraArgs ...string) {
	t.Helper()
	root := RepoRoot(t)
	for _, tool := range []string{"qemu-system-x86_64", "ipvsadm"} {
		NeedBinary(t, tool)
	}
	cmd, cleanup, err := vmCommand(root, t.Name(), pattern, extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	out, err := cmd.CombinedOutput()
	reportVM(t, out, err)
}

// RequireVM is for tests that only make sense inside the lab VM; the host
// runs them through RunInVM.
func RequireVM(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Skip("runs inside the lab VM, started by its host-side test")
	}
}

// KeepalivedSamples returns a directory holding keepalived 2.2.7's sample
// configurations (keepalived.conf.*), the corpus of the differential tests.
// It looks, in order, at $LVSD_KEEPALIVED_SAMPLES, at the samples Debian's
// keepalived package installs (the same files as doc/samples at v2.2.7, and
// of the reference daemon the tests run), and at shared/corpus beside or
// above the checkout, so that a clone anywhere finds them.
func KeepalivedSamples(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("LVSD_KEEPALIVED_SAMPLES"), "/usr/share/doc/keepalived/samples"}
	for dir := RepoRoot(t); ; {
		candidates = append(candidates, filepath.Join(dir, "shared", "corpus", "keepalived-samples"))
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "keepalived.conf.*")); len(m) > 0 {
			return dir
		}
	}
	Need(t, false, "keepalived's sample configurations not found (install Debian's keepalived, or set LVSD_KEEPALIVED_SAMPLES); looked in %q", candidates)
	return ""
}
