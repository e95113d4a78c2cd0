package labtest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// vmSuite is a package's TestVM* tests running in the lab VM, started by
// StartVMTestsEarly before the host tests so that the VM's boot and run
// overlap them (the VM spends its time computing under emulation, the host
// labs mostly waiting on protocol timers). RunVMTests waits for it.
type vmSuite struct {
	name    string
	pattern string
	done    chan struct{}
	out     bytes.Buffer
	err     error
	missing string // a prerequisite that was not there; nothing ran
	cmd     *exec.Cmd
	ended   bool
	mu      sync.Mutex
}

var early *vmSuite

// StartVMTestsEarly starts the package's lab VM suite (^TestVM) in the
// background when this process is going to run TestLab: not inside the VM,
// not under -short, as root, and -test.run selecting TestLab. A TestMain
// calls it after flag.Parse and calls StopVMTests after m.Run. When it
// does not start the suite, TestLab runs it in the foreground as before.
// One VM per package: emulation is CPU-bound, so on two cores a second VM
// would only slow the first.
func StartVMTestsEarly() {
	if InVM() || testing.Short() || os.Geteuid() != 0 || !runSelects("TestLab") {
		return
	}
	early = &vmSuite{name: "TestLab", pattern: "^TestVM", done: make(chan struct{})}
	go early.run()
}

// StopVMTests kills the early suites that TestLab never waited for (a
// -failfast stop, a panic): no VM may outlive the test process.
func StopVMTests() {
	if s := early; s != nil {
		s.mu.Lock()
		if s.cmd != nil && s.cmd.Process != nil && !s.ended {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
		s.mu.Unlock()
	}
}

// runSelects reports whether -test.run selects the top-level test name.
func runSelects(name string) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	top := strings.SplitN(f.Value.String(), "/", 2)[0]
	ok, err := regexp.MatchString(top, name)
	return err == nil && ok
}

func (s *vmSuite) run() {
	defer close(s.done)
	root, err := findRepoRoot()
	if err != nil {
		s.err = err
		return
	}
	for _, tool := range []string{"qemu-system-x86_64", "ipvsadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			s.missing = tool + " not installed (scripts/setup.sh installs it)"
			return
		}
	}
	cmd, cleanup, err := vmCommand(root, s.name, s.pattern)
	if err != nil {
		s.err = err
		return
	}
	defer cleanup()
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	err = cmd.Start()
	s.cmd = cmd
	s.mu.Unlock()
	if err == nil {
		err = cmd.Wait()
	}
	s.mu.Lock()
	s.err, s.ended = err, true
	s.mu.Unlock()
}

// wait is TestLab's body when the suite started early.
func (s *vmSuite) wait(t *testing.T) {
	t.Helper()
	<-s.done
	if s.missing != "" {
		Need(t, false, "%s", s.missing)
	}
	reportVM(t, s.out.Bytes(), s.err)
}

// reportVM streams the VM's output into the test log and fails the test
// unless the tests inside passed.
func reportVM(t *testing.T, out []byte, err error) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log(line)
	}
	if err != nil {
		t.Fatalf("tests inside the lab VM failed: %v", err)
	}
	if !bytes.Contains(out, []byte("\nPASS")) && !bytes.HasPrefix(out, []byte("PASS")) {
		t.Fatalf("the lab VM did not report PASS")
	}
}

// vmCommand prepares scripts/lab.sh running a copy of this test binary with
// -test.run=pattern; cleanup removes the copy. The VM mounts its own /tmp,
// so the copy lives in the repository.
func vmCommand(root, name, pattern string, extraArgs ...string) (*exec.Cmd, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	binDir := root + "/.lab/bin"
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, nil, err
	}
	bin := fmt.Sprintf("%s/%s-%d.test", binDir, strings.ReplaceAll(name, "/", "_"), os.Getpid())
	data, err := os.ReadFile(self)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		return nil, nil, err
	}
	args := append([]string{bin, "-test.run", pattern, "-test.v", "-test.count=1"}, extraArgs...)
	cmd := exec.Command(root+"/scripts/lab.sh", args...)
	wd, _ := os.Getwd()
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "CI=true")
	return cmd, func() { os.Remove(bin) }, nil
}

// findRepoRoot finds the module root from the working directory.
func findRepoRoot() (string, error) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			return dir, nil
		}
		i := strings.LastIndex(dir, "/")
		if i <= 0 {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = dir[:i]
	}
}
