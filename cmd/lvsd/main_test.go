package main

import (
	"flag"
	"os"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestMain lets integration tests run this test binary as the lvsd CLI
// (LVSD_TEST_MAIN=1), so they exercise the real command without a separate build.
//
// It starts the lab VM suite (TestLab's TestVM* tests) first, in the
// background, so that it runs beside the host labs instead of after them:
// this package's first pass is make test's longest. One VM, not several:
// emulation is CPU-bound, so a second VM on the two cores only slows the
// first (and the timing bounds of the tests inside it).
func TestMain(m *testing.M) {
	if labtest.RunHelper() {
		os.Exit(0)
	}
	if os.Getenv("LVSD_TEST_MAIN") == "1" {
		os.Args = append([]string{"lvsd"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	flag.Parse()
	labtest.StartVMTestsEarly()
	code := m.Run()
	labtest.StopVMTests()
	os.Exit(code)
}
