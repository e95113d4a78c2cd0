package track

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// ProcPollInterval is how often WatchProcesses scans /proc. keepalived
// follows processes through the kernel's proc connector (fork, exec, exit
// and comm events, at once); lvsd scans /proc instead, so a process seen
// starting or ending is noticed up to this much later.
const ProcPollInterval = 250 * time.Millisecond

// procMatcher is one vrrp_track_process as keepalived 2.2.7's read_procs
// and check_params match it.
type procMatcher struct {
	cfg    *config.TrackProcess
	params []byte // each parameter NUL-terminated, as in /proc/PID/cmdline
}

// Scanner counts the processes each vrrp_track_process matches.
type Scanner struct {
	Root     string // "/proc" unless a test says otherwise
	matchers []procMatcher
	maxLen   int // keepalived's vrrp_max_process_name_len
	anyFull  bool
	anyComm  bool
}

// NewScanner prepares the matching of procs.
func NewScanner(procs []*config.TrackProcess) *Scanner {
	s := &Scanner{Root: "/proc"}
	for _, p := range procs {
		m := procMatcher{cfg: p}
		for _, a := range p.Params {
			m.params = append(append(m.params, a...), 0)
		}
		s.maxLen = max(s.maxLen, len(m.params)+len(p.Process)+1)
		if p.FullCommand {
			s.anyFull = true
		} else {
			s.anyComm = true
		}
		s.matchers = append(s.matchers, m)
	}
	return s
}

// checkParams is keepalived's check_params; paramsLen < 0 stands for C's
// negative size_t (a cmdline without the name's NUL): huge.
func (m *procMatcher) checkParams(params []byte, paramsLen int) bool {
	pl := len(m.params)
	if m.cfg.ParamMatch == config.ParamMatchExact && pl == 0 && paramsLen == 0 {
		return true
	}
	if paramsLen >= 0 && paramsLen < pl {
		return false
	}
	if m.cfg.ParamMatch == config.ParamMatchExact {
		return paramsLen == pl && (pl == 0 || bytes.Equal(params[:pl], m.params))
	}
	if pl == 0 {
		return true
	}
	if m.cfg.ParamMatch == config.ParamMatchPartial {
		return len(params) >= pl && bytes.Equal(params[:pl], m.params)
	}
	return pl == 1 || len(params) >= pl-1 && bytes.Equal(params[:pl-1], m.params[:pl-1])
}

// ProcInfo is one matched process.
type ProcInfo struct{ PID, PPID int }

// Scan reads Root once and returns, for each vrrp_track_process name, the
// processes it matches.
func (s *Scanner) Scan() map[string][]ProcInfo {
	out := make(map[string][]ProcInfo, len(s.matchers))
	for _, m := range s.matchers {
		out[m.cfg.Name] = nil
	}
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return out
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || n[0] <= '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		var cmd []byte
		if s.anyFull {
			f, err := os.Open(filepath.Join(s.Root, n, "cmdline"))
			if err != nil {
				continue
			}
			buf := make([]byte, s.maxLen+1)
			k, _ := f.Read(buf)
			f.Close()
			cmd = buf[:max(k, 0)]
		}
		stat, err := os.ReadFile(filepath.Join(s.Root, n, "stat"))
		if err != nil {
			continue
		}
		ppid := 0
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			if f := bytes.Fields(stat[i+1:]); len(f) > 1 {
				ppid, _ = strconv.Atoi(string(f[1]))
			}
		}
		var comm []byte
		if s.anyComm {
			// keepalived reads 127 bytes and takes what is between the
			// first '(' after byte 2 and the first ')' after it.
			st := stat[:min(len(stat), 127)]
			st = bytes.TrimSuffix(st, []byte("\n"))
			if len(st) < 3 {
				continue
			}
			o := bytes.IndexByte(st[2:], '(')
			if o < 0 {
				continue
			}
			o += 2
			c := bytes.IndexByte(st[o:], ')')
			if c < 0 {
				continue
			}
			c += o
			comm = st[o+1 : c]
			if c+2 < len(st) && st[c+2] == 'Z' {
				continue
			}
		}
		for i := range s.matchers {
			m := &s.matchers[i]
			name := comm
			if m.cfg.FullCommand {
				name = cmd
				if z := bytes.IndexByte(name, 0); z >= 0 {
					name = name[:z]
				}
			}
			if string(name) != m.cfg.Process {
				continue
			}
			if m.cfg.ParamMatch != config.ParamMatchNone {
				start := len(name) + 1
				var params []byte
				if start <= len(cmd) {
					params = cmd[start:]
				}
				if !m.checkParams(params, len(cmd)-start) {
					continue
				}
			}
			out[m.cfg.Name] = append(out[m.cfg.Name], ProcInfo{PID: pid, PPID: ppid})
		}
	}
	return out
}

// ProcessWatcher follows the quorum of each vrrp_track_process.
type ProcessWatcher struct {
	scan  *Scanner
	procs map[string]*procState
}

type procState struct {
	cfg     *config.TrackProcess
	pids    map[int]bool
	quorum  bool
	pending bool // a change to !quorum is waiting for deadline
	due     time.Time
}

// NewProcessWatcher scans once: Quorum then reports the state at start
// (keepalived's read_procs at start-up; no delay applies).
func NewProcessWatcher(procs []*config.TrackProcess, root string) *ProcessWatcher {
	w := &ProcessWatcher{scan: NewScanner(procs), procs: map[string]*procState{}}
	if root != "" {
		w.scan.Root = root
	}
	found := w.scan.Scan()
	for _, p := range procs {
		st := &procState{cfg: p, pids: map[int]bool{}}
		for _, pi := range found[p.Name] {
			st.pids[pi.PID] = true
		}
		st.quorum = inQuorum(p, len(st.pids))
		w.procs[p.Name] = st
	}
	return w
}

func inQuorum(p *config.TrackProcess, n int) bool {
	return int64(n) >= int64(p.Quorum) && int64(n) <= p.QuorumMax
}

// Quorum reports whether name has quorum now.
func (w *ProcessWatcher) Quorum(name string) bool {
	st := w.procs[name]
	return st != nil && st.quorum
}

// Count is how many processes name matched at the last scan.
func (w *ProcessWatcher) Count(name string) int {
	if st := w.procs[name]; st != nil {
		return len(st.pids)
	}
	return 0
}

// step applies one scan at now and returns the names whose quorum changed.
// A change waits: a loss from processes ending for terminate_delay, a gain
// from a tracked process forking for fork_delay (a process that starts
// anew, keepalived's exec event, counts at once); the opposite change in
// the meantime cancels it, as keepalived cancels its timers.
func (w *ProcessWatcher) step(now time.Time, found map[string][]ProcInfo) []string {
	var changed []string
	for name, st := range w.procs {
		cur := map[int]bool{}
		forked := false
		for _, pi := range found[name] {
			cur[pi.PID] = true
			if !st.pids[pi.PID] && st.pids[pi.PPID] {
				forked = true
			}
		}
		grew := len(cur) > len(st.pids)
		st.pids = cur
		raw := inQuorum(st.cfg, len(cur))
		if raw == st.quorum {
			st.pending = false
			continue
		}
		if !st.pending {
			var delay time.Duration
			switch {
			case grew && forked:
				delay = st.cfg.ForkDelay
			case !grew:
				delay = st.cfg.TerminateDelay
			}
			st.pending, st.due = true, now.Add(delay)
		}
		if !now.Before(st.due) {
			st.pending = false
			st.quorum = raw
			changed = append(changed, name)
		}
	}
	return changed
}

// Run scans every interval (0: ProcPollInterval) until ctx ends and calls
// fn, from its goroutine, for each name whose quorum changed.
func (w *ProcessWatcher) Run(ctx context.Context, interval time.Duration, fn func(name string, quorum bool)) {
	if interval <= 0 {
		interval = ProcPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range w.step(time.Now(), w.scan.Scan()) {
			fn(name, w.procs[name].quorum)
		}
	}
}
