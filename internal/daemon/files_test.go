package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

// errStarted is what tryStart returns when the daemon got as far as
// starting (it asked for the IPVS kernel); the daemon is then stopped.
var errStarted = errors.New("the daemon started")

// tryStart runs the daemon on baseConf in dir (its state directory unless
// adjust changes it) and returns Run's error if Run gives up before
// starting, errStarted if it started. keep, if not nil, is called while
// the daemon still runs.
func tryStart(t *testing.T, dir string, adjust func(*Options), keep func()) error {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(conf, []byte(baseConf), 0o644); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var once sync.Once
	opts := Options{ConfigFile: conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { once.Do(func() { close(started) }); return ipvs.NewFakeKernel(), nil }}
	if adjust != nil {
		adjust(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts, nil) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil before starting")
		}
		return err
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Run neither started nor failed in 10s")
	}
	if keep != nil {
		keep()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stop in 10s")
	}
	return errStarted
}

func wantRefused(t *testing.T, err error, words ...string) {
	t.Helper()
	if err == errStarted || err == nil {
		t.Fatalf("the daemon started; want a refusal naming %q", words)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		labtest.NeedRoot(t) // fatal under CI=true
	}
}

// TestPIDFileSymlinkNotFollowed: -p naming a symbolic link is refused, and
// the link's target is left as it was (keepalived CVE-2011-1784).
func TestPIDFileSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("do not truncate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(dir, "lvsd.pid")
	if err := os.Symlink(target, pid); err != nil {
		t.Fatal(err)
	}
	err := tryStart(t, dir, func(o *Options) { o.PIDFile = pid }, nil)
	wantRefused(t, err, "pid file", "symbolic link")
	if got := readFile(t, target); got != "do not truncate\n" {
		t.Errorf("the link's target was written: %q", got)
	}
	if fi, err := os.Lstat(pid); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link itself was replaced or removed: %v %v", fi, err)
	}
}

// TestPIDFileForeignReplaced: a pid file left by another user, writable
// by all, is not kept: lvsd replaces it (a new file, not a rewrite) owned
// by root with mode 0644.
func TestPIDFileForeignReplaced(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	pid := filepath.Join(dir, "lvsd.pid")
	if err := os.WriteFile(pid, []byte("1\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pid, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pid, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	old := lstat(t, pid)
	err := tryStart(t, dir, func(o *Options) { o.PIDFile = pid }, func() {
		st := lstat(t, pid)
		if st.Uid != 0 || st.Mode&0o7777 != 0o644 {
			t.Errorf("pid file: uid %d mode %o, want 0 and 644", st.Uid, st.Mode&0o7777)
		}
		if st.Ino == old.Ino {
			t.Error("the foreign file was rewritten in place, not replaced")
		}
		if got := readFile(t, pid); got != strconv.Itoa(os.Getpid())+"\n" {
			t.Errorf("pid file holds %q", got)
		}
	})
	if err != errStarted {
		t.Fatalf("start with a foreign pid file: %v", err)
	}
}

// sameCommandHelper starts this test binary again, which sleeps: a live
// process with the same command name as the daemon under test.
func sameCommandHelper(t *testing.T) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperSleep$")
	cmd.Env = append(os.Environ(), "LVSD_DAEMON_HELPER=sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// TestHelperSleep is sameCommandHelper's process.
func TestHelperSleep(t *testing.T) {
	if os.Getenv("LVSD_DAEMON_HELPER") != "sleep" {
		t.Skip("helper process only")
	}
	time.Sleep(time.Minute)
}

// TestPIDFileOfRunningLvsdRefuses: as keepalived, a start is refused
// while the pid file names a live lvsd, and that file is left alone.
func TestPIDFileOfRunningLvsdRefuses(t *testing.T) {
	dir := t.TempDir()
	pid := filepath.Join(dir, "lvsd.pid")
	other := strconv.Itoa(sameCommandHelper(t)) + "\n"
	if err := os.WriteFile(pid, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	err := tryStart(t, dir, func(o *Options) { o.PIDFile = pid }, nil)
	wantRefused(t, err, "already running", strings.TrimSpace(other))
	if got := readFile(t, pid); got != other {
		t.Errorf("the running lvsd's pid file was changed to %q", got)
	}
}

// TestPIDFileStaleReplaced: a pid file naming a dead process, a process
// that is not lvsd, or nothing readable is stale: it is replaced, and
// removed at stop.
func TestPIDFileStaleReplaced(t *testing.T) {
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"dead":    strconv.Itoa(dead.Process.Pid) + "\n",
		"foreign": strconv.Itoa(sleeper.Process.Pid) + "\n",
		"garbage": "not a pid\n",
		"self":    strconv.Itoa(os.Getpid()) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pid := filepath.Join(dir, "lvsd.pid")
			if err := os.WriteFile(pid, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			err := tryStart(t, dir, func(o *Options) { o.PIDFile = pid }, func() {
				if got := readFile(t, pid); got != strconv.Itoa(os.Getpid())+"\n" {
					t.Errorf("pid file holds %q", got)
				}
			})
			if err != errStarted {
				t.Fatalf("start over a stale pid file: %v", err)
			}
			if _, err := os.Lstat(pid); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pid file left after stop: %v", err)
			}
		})
	}
}

// TestStateDirChecked: an existing state directory must be root's and
// writable by nobody else; a missing one is created with mode 0700.
func TestStateDirChecked(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"foreign owner", func(d string) error { return os.Chown(d, 65534, 65534) }, "owned by uid 65534"},
		{"world-writable", func(d string) error { return os.Chmod(d, 0o777) }, "writable by group or others"},
		{"group-writable", func(d string) error { return os.Chmod(d, 0o770) }, "writable by group or others"},
		{"sticky world-writable", func(d string) error { return os.Chmod(d, 0o1777) }, "writable by group or others"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := c.setup(dir); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, tryStart(t, dir, nil, nil), "state directory", c.want)
		})
	}
	t.Run("symlink", func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "real")
		if err := os.Mkdir(real, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(base, "state")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tryStart(t, link, nil, nil), "state directory", "symbolic link")
	})
	t.Run("created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		old := syscall.Umask(0)
		defer syscall.Umask(old)
		if err := tryStart(t, dir, nil, nil); err != errStarted {
			t.Fatal(err)
		}
		if st := lstat(t, dir); st.Mode&0o7777 != 0o700 || st.Uid != 0 {
			t.Errorf("created state directory: mode %o uid %d, want 700 and 0", st.Mode&0o7777, st.Uid)
		}
	})
}

// TestControlSocketPathNotSocket: whatever is at the control socket's
// path and is not a socket is an error, and is left in place.
func TestControlSocketPathNotSocket(t *testing.T) {
	t.Run("regular file", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, "lvsd.sock")
		if err := os.WriteFile(sock, []byte("keep me\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tryStart(t, dir, nil, nil), "control socket", "not a socket")
		if got := readFile(t, sock); got != "keep me\n" {
			t.Errorf("file at the socket path: %q", got)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, "lvsd.sock")
		if err := os.Mkdir(sock, 0o700); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tryStart(t, dir, nil, nil), "control socket", "not a socket")
		if fi, err := os.Lstat(sock); err != nil || !fi.IsDir() {
			t.Errorf("directory at the socket path: %v %v", fi, err)
		}
	})
	t.Run("symlink to a file", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(dir, "lvsd.sock")
		if err := os.Symlink(target, sock); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tryStart(t, dir, nil, nil), "control socket", "not a socket")
		if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("link at the socket path: %v %v", fi, err)
		}
	})
}

// TestControlSocketStaleAndLive: a socket nobody listens on (left by a
// crash) is replaced; one with a listener means another lvsd runs.
func TestControlSocketStaleAndLive(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lvsd.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, tryStart(t, dir, nil, nil), "another lvsd")
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("the live socket was removed: %v", err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	err = tryStart(t, dir, nil, func() {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Errorf("the stale socket was not replaced: %v", err)
			return
		}
		c.Close()
	})
	if err != errStarted {
		t.Fatalf("start over a stale socket: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after stop: %v", err)
	}
}

// TestControlSocketFinalMode: the control socket never exists at its path
// with another mode than 0600: it appears there by a rename, and its
// attributes are not changed afterwards (a chmod after listen left a
// window in which anyone could connect).
func TestControlSocketFinalMode(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skip("inotify:", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ATTRIB|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0) // what an operator's shell might have
	defer syscall.Umask(old)
	var events []string
	err = tryStart(t, dir, nil, func() {
		st := lstat(t, filepath.Join(dir, "lvsd.sock"))
		if st.Mode&0o7777 != 0o600 {
			t.Errorf("control socket mode %o, want 600", st.Mode&0o7777)
		}
		buf := make([]byte, 64<<10)
		n, _ := unix.Read(fd, buf)
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if name != "lvsd.sock" {
				continue
			}
			switch {
			case ev.Mask&unix.IN_CREATE != 0:
				events = append(events, "create")
			case ev.Mask&unix.IN_ATTRIB != 0:
				events = append(events, "attrib")
			case ev.Mask&unix.IN_MOVED_TO != 0:
				events = append(events, "moved_to")
			}
		}
	})
	if err != errStarted {
		t.Fatal(err)
	}
	if strings.Join(events, ",") != "moved_to" {
		t.Errorf("events at the socket path: %v; want it to appear by a rename with its final mode", events)
	}
}
