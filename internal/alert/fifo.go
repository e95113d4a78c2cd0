package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// The notify FIFO lines keepalived 2.2.7 writes (vrrp_notify.c
// notify_fifo, check/ipwrapper.c notify_fifo_vs/notify_fifo_rs).

// InstanceLine is `INSTANCE "VI_1" MASTER 100`.
func InstanceLine(name, state string, priority int) string {
	return fmt.Sprintf("INSTANCE \"%s\" %s %d\n", name, state, priority)
}

// GroupLine is `GROUP "G" MASTER 0` (a group's priority is written as 0).
func GroupLine(name, state string) string { return fmt.Sprintf("GROUP \"%s\" %s %d\n", name, state, 0) }

// VSLine is `VS [10.0.0.1]:tcp:80 UP`: a virtual server's quorum.
func VSLine(vs VirtualServer, up bool) string {
	return fmt.Sprintf("VS %s %s\n", FormatVS(vs), map[bool]string{true: "UP", false: "DOWN"}[up])
}

// RSLine is `RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN`.
func RSLine(rs netip.AddrPort, vs VirtualServer, up bool) string {
	return fmt.Sprintf("RS %s %s %s\n", FormatRS(rs, vs), FormatVS(vs), map[bool]string{true: "UP", false: "DOWN"}[up])
}

// FIFO is one open notify FIFO, written without ever blocking: keepalived
// opens it O_RDWR|O_NONBLOCK, so a line goes into the pipe whether or not
// a reader is there, and is lost when the pipe is full.
type FIFO struct {
	cfg     config.NotifyFIFO
	log     *slog.Logger
	fd      int
	created bool
	cmd     *exec.Cmd
	mu      sync.Mutex
	dropped atomic.Uint64
	written atomic.Uint64
	warned  bool
}

// OpenFIFO opens nf as keepalived's fifo_open does: mkfifo (0644, chowned
// to its user and group when given) unless it exists, the script started
// with the path as its last argument, then the FIFO opened read-write and
// non-blocking. nil (logged) when it cannot be opened, as keepalived
// then runs without it.
func OpenFIFO(nf *config.NotifyFIFO, kind string, run func(argv []string, user, group string) (*exec.Cmd, error), log *slog.Logger) *FIFO {
	if nf == nil || nf.Path == "" {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &FIFO{cfg: *nf, log: log, fd: -1}
	err := unix.Mkfifo(nf.Path, 0o644)
	switch {
	case err == nil:
		f.created = true
		if nf.User != "" {
			if err := chownTo(nf.Path, nf.User, nf.Group); err != nil {
				log.Info("failed to set uid:gid for fifo", "fifo", nf.Path, "err", err)
			}
		}
	case errors.Is(err, unix.EEXIST):
	default:
		log.Warn("unable to create notify fifo", "kind", kind+"notify_fifo", "fifo", nf.Path, "err", err)
		return nil
	}
	if nf.Script != nil && run != nil {
		argv := append(append([]string(nil), nf.Script.Argv...), nf.Path)
		cmd, err := run(argv, nf.Script.User, nf.Script.Group)
		if err != nil {
			log.Warn("notify fifo script not started", "kind", kind+"notify_fifo_script", "script", argv[0], "err", err)
		} else {
			f.cmd = cmd
		}
	}
	fd, err := unix.Open(nf.Path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		log.Warn("unable to open notify fifo", "kind", kind+"notify_fifo", "fifo", nf.Path, "err", err)
		if f.created {
			_ = os.Remove(nf.Path)
		}
		f.stopScript()
		return nil
	}
	f.fd = fd
	return f
}

// StartScript runs argv in a process group of its own (the fifo scripts'
// default runner; user and group switch the credentials when given).
func StartScript(argv []string, usr, group string) (*exec.Cmd, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	attr := &syscall.SysProcAttr{Setpgid: true}
	if usr != "" {
		u, err := user.Lookup(usr)
		if err != nil {
			return nil, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if group != "" {
			g, err := user.LookupGroup(group)
			if err != nil {
				return nil, err
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	return cmd, nil
}

func chownTo(path, usr, group string) error {
	u, err := user.Lookup(usr)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return os.Chown(path, uid, gid)
}

// Path is the FIFO's path ("" for nil).
func (f *FIFO) Path() string {
	if f == nil {
		return ""
	}
	return f.cfg.Path
}

// Same says whether f was opened from nf (a reload keeps it then).
func (f *FIFO) Same(nf *config.NotifyFIFO) bool {
	if f == nil || nf == nil {
		return f == nil && (nf == nil || nf.Path == "")
	}
	a, b := f.cfg, *nf
	a.Pos, b.Pos = config.Pos{}, config.Pos{}
	return fmt.Sprint(a.Path, a.User, a.Group, scriptKey(a.Script)) == fmt.Sprint(b.Path, b.User, b.Group, scriptKey(b.Script))
}

func scriptKey(s *config.Script) string {
	if s == nil {
		return ""
	}
	return fmt.Sprint(s.Argv, s.User, s.Group)
}

// Write writes line whole or not at all (a pipe write up to PIPE_BUF is
// atomic), never waiting: with the pipe full it is dropped and counted.
func (f *FIFO) Write(line string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fd < 0 {
		return
	}
	if _, err := unix.Write(f.fd, []byte(line)); err != nil {
		n := f.dropped.Add(1)
		if !f.warned {
			f.warned = true
			f.log.Warn("notify fifo line dropped (the reader is not keeping up; further drops are counted)", "fifo", f.cfg.Path, "err", err, "dropped", n)
		}
		return
	}
	f.written.Add(1)
	f.warned = false
}

// Dropped counts the lines not written.
func (f *FIFO) Dropped() uint64 {
	if f == nil {
		return 0
	}
	return f.dropped.Load()
}

// Close closes the FIFO, removes it if it was created here (first, so a
// script that reopens it in a loop cannot), and ends its script.
func (f *FIFO) Close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.created {
		_ = os.Remove(f.cfg.Path)
	}
	if f.fd >= 0 {
		_ = unix.Close(f.fd)
		f.fd = -1
	}
	f.mu.Unlock()
	f.stopScript()
}

// stopScript: the script has seen the end of the FIFO; it gets a moment
// to finish, then its process group is ended.
func (f *FIFO) stopScript() {
	if f.cmd == nil || f.cmd.Process == nil {
		return
	}
	pid := f.cmd.Process.Pid
	go func() {
		time.Sleep(500 * time.Millisecond)
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}()
}
