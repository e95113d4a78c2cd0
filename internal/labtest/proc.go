package labtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat reads /proc/PID/stat past the command name: state, ppid, pgrp.
func procStat(pid string) (state string, ppid, pgrp int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ = strconv.Atoi(f[2])
	return f[0], ppid, pgrp, true
}

// reapIfZombie reports whether pid is a zombie (or dead), reaping it when
// it is this process's child: tests that make themselves subreapers, and
// machines whose PID 1 does not reap, would otherwise see it forever.
func reapIfZombie(pid int, state string, ppid int) bool {
	if state != "Z" && state != "X" {
		return false
	}
	if ppid == os.Getpid() {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
	return true
}

// ProcessAlive reports whether pid runs (exists and is not a zombie).
func ProcessAlive(pid int) bool {
	state, ppid, _, ok := procStat(strconv.Itoa(pid))
	return ok && !reapIfZombie(pid, state, ppid)
}

// GroupMembers lists the live (not zombie) processes of process group pgid.
func GroupMembers(pgid int) []int {
	var live []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, pgrp, ok := procStat(e.Name())
		if !ok || pgrp != pgid || reapIfZombie(pid, state, ppid) {
			continue
		}
		live = append(live, pid)
	}
	return live
}

// Terminate sends cmd's process SIGTERM and waits for it to exit, up to
// grace; then it kills it. cmd must have been started and not waited for.
func Terminate(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
