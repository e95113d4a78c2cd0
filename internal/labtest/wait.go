package labtest

import (
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// WaitFor polls cond every 5 ms until it holds and returns how long that
// took; the test fails if it does not hold within limit.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	took, ok := Poll(limit, 5*time.Millisecond, cond)
	if !ok {
		t.Fatalf("%s: not within %s", what, limit)
	}
	return took
}

// Poll checks cond every interval until it holds (true, and how long that
// took) or limit passes (false). For conditions too costly to check every
// 5 ms, or whose failure message needs more than WaitFor's. cond is always
// checked at least once, and once more at the limit, so a limit already
// spent (or a slow check) never reports false without looking.
func Poll(limit, interval time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		left := limit - time.Since(start)
		if left <= 0 {
			return 0, false
		}
		time.Sleep(min(interval, left))
	}
}

// Config parses a keepalived.conf given as text (config id "lab") and
// fails the test on any error diagnostic.
func Config(t testing.TB, src string) *config.Config {
	t.Helper()
	res := config.Load("lab.conf", config.Options{ConfigID: "lab", FS: config.MapFS{"lab.conf": src}})
	if !res.OK() {
		t.Fatalf("config: %v", res.Diags.Sorted())
	}
	return res.Config
}

// RunVMTests is a package's TestLab: it boots the IPVS lab VM once and
// runs the package's TestVM* tests inside it, or waits for the run that
// StartVMTestsEarly began. Inside the VM only TestVM* tests run, so it
// never starts a VM from a VM.
func RunVMTests(t *testing.T) {
	t.Helper()
	if InVM() {
		return
	}
	if early != nil {
		// Parallel: the wait comes after the package's sequential tests,
		// which run beside the VM instead of queueing behind TestLab.
		t.Parallel()
		early.wait(t)
		return
	}
	NeedRoot(t)
	RunInVM(t, "^TestVM")
}
