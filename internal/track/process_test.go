package track

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// fakeProc writes a /proc entry: stat with comm and state, cmdline argv.
func fakeProc(t *testing.T, root string, pid, ppid int, comm, state string, argv ...string) {
	t.Helper()
	d := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (%s) %s %d 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 100 1000 100\n", pid, comm, state, ppid)
	os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644)
	var cl string
	for _, a := range argv {
		cl += a + "\x00"
	}
	os.WriteFile(filepath.Join(d, "cmdline"), []byte(cl), 0o644)
}

func TestScannerMatchesAsKeepalived(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, 1, "nginx", "S", "/usr/sbin/nginx", "-g", "daemon off;")
	fakeProc(t, root, 11, 10, "nginx", "S", "nginx: worker process")
	fakeProc(t, root, 12, 1, "nginx", "Z")
	fakeProc(t, root, 20, 1, "sleep", "S", "sleep", "100")
	fakeProc(t, root, 21, 1, "sleep", "S", "sleep", "100", "200")
	fakeProc(t, root, 22, 1, "sleep", "S", "sleep", "1000")
	fakeProc(t, root, 30, 1, "a) b", "S", "x")
	procs := []*config.TrackProcess{
		{Name: "comm", Process: "nginx"},
		{Name: "full", Process: "/usr/sbin/nginx", FullCommand: true},
		{Name: "exact", Process: "sleep", Params: []string{"100"}, ParamMatch: config.ParamMatchExact, FullCommand: true},
		{Name: "exact-none", Process: "sleep", ParamMatch: config.ParamMatchExact, FullCommand: true},
		{Name: "partial", Process: "sleep", Params: []string{"100"}, ParamMatch: config.ParamMatchPartial, FullCommand: true},
		{Name: "initial", Process: "sleep", Params: []string{"10"}, ParamMatch: config.ParamMatchInitial, FullCommand: true},
		{Name: "paren", Process: "a"},
	}
	got := NewScanner(procs)
	got.Root = root
	res := got.Scan()
	want := map[string]string{
		"comm": "10,11", "full": "10", "exact": "20", "exact-none": "", "partial": "20,21",
		"initial": "20,21,22", "paren": "30",
	}
	for name, w := range want {
		var pids []string
		for _, p := range res[name] {
			pids = append(pids, fmt.Sprint(p.PID))
		}
		if g := strings.Join(pids, ","); g != w {
			t.Errorf("%s matched %q, want %q", name, g, w)
		}
	}
}

func TestProcessWatcherDelays(t *testing.T) {
	p := &config.TrackProcess{Name: "p", Process: "x", Quorum: 2, QuorumMax: 3, ForkDelay: 2 * time.Second, TerminateDelay: 5 * time.Second}
	w := &ProcessWatcher{procs: map[string]*procState{"p": {cfg: p, pids: map[int]bool{}}}}
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	procs := func(pp ...int) map[string][]ProcInfo {
		var l []ProcInfo
		for i := 0; i < len(pp); i += 2 {
			l = append(l, ProcInfo{PID: pp[i], PPID: pp[i+1]})
		}
		return map[string][]ProcInfo{"p": l}
	}
	steps := []struct {
		t     int
		found map[string][]ProcInfo
		want  bool
	}{
		{0, procs(5, 1), false},
		{1, procs(5, 1, 6, 1), true},               // a new process (exec): at once
		{2, procs(5, 1), true},                     // one ends: terminate_delay
		{6, procs(5, 1), true},                     //
		{7, procs(5, 1), false},                    // 5 s later: lost
		{8, procs(5, 1, 7, 5), false},              // the tracked process forks: fork_delay
		{9, procs(5, 1, 7, 5), false},              //
		{10, procs(5, 1, 7, 5), true},              // 2 s later: gained
		{11, procs(5, 1, 7, 5, 8, 1, 9, 1), false}, // 4 > quorum_max: a gain of processes that loses quorum
		{12, procs(5, 1, 7, 5, 8, 1), false},       // back to 3 from 4 by an exit: terminate_delay applies
		{13, procs(5, 1), false},                   // down to 1 cancels the pending gain
		{18, procs(5, 1), false},                   // and nothing comes of it
		{19, procs(5, 1, 10, 1), true},             // a process started anew: at once
	}
	for _, s := range steps {
		w.step(at(s.t), s.found)
		if got := w.procs["p"].quorum; got != s.want {
			t.Errorf("t=%d: quorum %v, want %v", s.t, got, s.want)
		}
	}
}
