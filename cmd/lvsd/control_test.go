package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestStopTrustsOnlyRootPIDFile: `lvsd stop -p FILE` signals the pid in
// FILE only if FILE is a regular file owned by root that nobody else can
// write; otherwise anyone could have made it name any process.
func TestStopTrustsOnlyRootPIDFile(t *testing.T) {
	if os.Geteuid() != 0 {
		labtest.NeedRoot(t) // fatal under CI=true
	}
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = victim.Wait(); close(exited) }()
	t.Cleanup(func() { _ = victim.Process.Kill(); <-exited })
	pid := strconv.Itoa(victim.Process.Pid) + "\n"
	dir := t.TempDir()
	write := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(pid), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pid", 0o644, 0)
	link := filepath.Join(dir, "link.pid")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	stop := func(file string) error {
		root := newRootCommand()
		root.SetArgs([]string{"stop", "-p", file})
		root.SetOut(&strings.Builder{})
		root.SetErr(&strings.Builder{})
		return root.Execute()
	}
	for _, c := range []struct{ name, file, want string }{
		{"foreign owner", write("foreign.pid", 0o644, 65534), "owned by uid 65534"},
		{"world-writable", write("world.pid", 0o666, 0), "writable by group or others"},
		{"group-writable", write("group.pid", 0o664, 0), "writable by group or others"},
		{"symbolic link", link, "symbolic link"},
	} {
		err := stop(c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: stop -p: %v; want a refusal saying %q", c.name, err, c.want)
		}
		select {
		case <-exited:
			t.Fatalf("%s: the process named in an untrusted pid file was signalled", c.name)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := stop(good); err != nil {
		t.Fatalf("stop -p with root's 0644 pid file: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the process in a trusted pid file was not stopped")
	}
	if ws := victim.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the process ended with %v, want SIGTERM", ws)
	}
}
