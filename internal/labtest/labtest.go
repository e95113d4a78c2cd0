// Package labtest holds helpers for integration tests that need root,
// network namespaces or Debian's reference tools. Under CI=true a lab that
// cannot be set up fails the test; elsewhere it skips, so that `go test`
// on a laptop still runs the unit tests.
package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// InCI reports whether the test runs under CI, where skipping is not allowed.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need stops the test when a lab prerequisite is missing: fatal in CI,
// skip elsewhere.
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
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
