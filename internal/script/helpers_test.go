package script

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

// runFunc is what the tests exercise: Runner.Run.
type runFunc func(ctx context.Context, s *config.Script, args ...string) (int, error)

// runUnderTest returns the run function for a runner; a test build may
// replace it to check that the tests fail on another implementation.
var runUnderTest = func(r *Runner) runFunc { return r.Run }

func TestMain(m *testing.M) {
	// Orphans of a script's process group come back to this process
	// rather than to PID 1 (which may not reap them here), so that the
	// tests can reap them and see the group really empty.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	os.Exit(m.Run())
}

// logBuf collects what a runner logs.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is the log with the text handler's quoting of quotes undone.
func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.ReplaceAll(l.buf.String(), `\"`, `"`)
}

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newRunner(s Settings) (*Runner, *logBuf) {
	lb := &logBuf{}
	r := &Runner{Log: slog.New(slog.NewTextHandler(lb, nil)), DefaultUser: "lvsd-test-no-such-user"}
	r.Apply(s)
	return r, lb
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		labtest.NeedRoot(t) // fatal under CI=true
	}
}

// baseDir is a root-owned 0755 directory under the temporary directory
// (/tmp: root-owned and sticky, which keepalived accepts).
func baseDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "lvsd-script-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func mkdir(t *testing.T, p string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	setMode(t, p, mode, uid, gid)
	return p
}

func writeScript(t *testing.T, p, body string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	setMode(t, p, mode, uid, gid)
	return p
}

func setMode(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	// Chmod after chown: chown clears set-uid/set-gid bits. mode is
	// octal as chmod(1) takes it: 01000 sticky, 02000 set-gid, 04000
	// set-uid.
	m := mode.Perm()
	for bit, fm := range map[os.FileMode]os.FileMode{0o1000: os.ModeSticky, 0o2000: os.ModeSetgid, 0o4000: os.ModeSetuid} {
		if mode&bit != 0 {
			m |= fm
		}
	}
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

// tempUser creates a user (and a group it is a supplementary member of)
// for the test, removed at its end.
func tempUser(t *testing.T) (name, group string, uid, gid, sgid int) {
	t.Helper()
	needRoot(t)
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.NeedBinary(t, tool)
		}
	}
	suffix := strconv.Itoa(os.Getpid() % 100000)
	name, group = "lvsdtu"+suffix, "lvsdtg"+suffix
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	_ = exec.Command("userdel", name).Run()
	_ = exec.Command("groupdel", group).Run()
	run("groupadd", group)
	t.Cleanup(func() { _ = exec.Command("groupdel", group).Run() })
	run("useradd", "-M", "-N", "-g", "nogroup", "-G", group, "-s", "/usr/sbin/nologin", name)
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	id := func(flag string) int {
		out, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return n
	}
	uid, gid = id("-u"), id("-g")
	out, err := exec.Command("getent", "group", group).Output()
	if err != nil {
		t.Fatal(err)
	}
	sgid, _ = strconv.Atoi(strings.Split(strings.TrimSpace(string(out)), ":")[2])
	return name, group, uid, gid, sgid
}

// readPIDs reads the pids a script wrote, one a line: its own (its
// process group's id) first, then its children's.
func readPIDs(t *testing.T, p string) []int {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("script did not write its pid: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, n)
	}
	if len(pids) == 0 {
		t.Fatal("script wrote no pid")
	}
	return pids
}

func describeGroup(pgid int) string {
	var out []string
	for _, pid := range labtest.GroupMembers(pgid) {
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %q", pid, strings.ReplaceAll(string(c), "\x00", " ")))
	}
	return strings.Join(out, ", ")
}
