package alert

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// TestFIFOLines: keepalived 2.2.7's line formats (vrrp_notify.c
// notify_fifo, ipwrapper.c notify_fifo_vs/notify_fifo_rs).
func TestFIFOLines(t *testing.T) {
	vs := VirtualServer{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Protocol: config.ProtoTCP}
	rs := netip.MustParseAddrPort("10.0.1.1:8080")
	for got, want := range map[string]string{
		InstanceLine("VI_1", StateMaster, 100):      "INSTANCE \"VI_1\" MASTER 100\n",
		InstanceLine("VI_1", StateStopped, 254):     "INSTANCE \"VI_1\" STOP 254\n",
		GroupLine("G", StateFault):                  "GROUP \"G\" FAULT 0\n",
		VSLine(vs, true):                            "VS [10.0.0.1]:tcp:80 UP\n",
		VSLine(VirtualServer{FWMark: 3}, false):     "VS FWM 3 DOWN\n",
		RSLine(rs, vs, false):                       "RS [10.0.1.1]:tcp:8080 [10.0.0.1]:tcp:80 DOWN\n",
		RSLine(rs, VirtualServer{Group: "g"}, true): "RS [10.0.1.1]:none:8080 [g]:0 UP\n",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

// TestFIFO: created (0644) when missing and removed at close; an existing
// one is kept; written without a reader and never blocking: a full pipe
// drops lines (counted); the script is started with the path as its last
// argument.
func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.fifo")
	var started []string
	run := func(argv []string, user, group string) (*exec.Cmd, error) {
		started = argv
		return nil, nil
	}
	f := OpenFIFO(&config.NotifyFIFO{Path: path, Script: &config.Script{Argv: []string{"/bin/reader", "-x"}}}, "vrrp_", run, nil)
	if f == nil {
		t.Fatal("not opened")
	}
	if strings.Join(started, " ") != "/bin/reader -x "+path {
		t.Errorf("script argv %q", started)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o644&^currentUmask() {
		t.Fatalf("fifo: %v %v", st.Mode(), err)
	}
	start := time.Now()
	for i := 0; i < 10000; i++ { // far beyond a 64 KiB pipe
		f.Write(InstanceLine("VI_1", StateMaster, 100))
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("writing took %v", time.Since(start))
	}
	if f.Dropped() == 0 {
		t.Error("a full pipe dropped nothing")
	}
	// A reader sees whole lines.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, _ := unix.Read(fd, b)
	unix.Close(fd)
	if !strings.HasPrefix(string(b[:n]), "INSTANCE \"VI_1\" MASTER 100\n") {
		t.Errorf("read %q", b[:n])
	}
	f.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("created fifo left behind: %v", err)
	}
	// An existing FIFO is used and left in place.
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f = OpenFIFO(&config.NotifyFIFO{Path: path}, "", nil, nil)
	f.Write("x\n")
	f.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("existing fifo removed: %v", err)
	}
	// A path that cannot be made: nil, as keepalived runs without it.
	if OpenFIFO(&config.NotifyFIFO{Path: filepath.Join(dir, "none", "x")}, "", nil, nil) != nil {
		t.Error("opened a fifo in a missing directory")
	}
	var nilF *FIFO
	nilF.Write("x")
	nilF.Close()
}

func currentUmask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// TestStartScript: the default runner starts argv in its own process
// group.
func TestStartScript(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd, err := StartScript([]string{"/bin/sh", "-c", "echo $0 > " + out, "arg"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if pg, _ := syscall.Getpgid(cmd.Process.Pid); pg != 0 && pg != cmd.Process.Pid {
		// it may have exited already; then Getpgid fails with 0
		t.Errorf("script's process group %d, want its own %d", pg, cmd.Process.Pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.TrimSpace(string(b)) == "arg" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("script output %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
