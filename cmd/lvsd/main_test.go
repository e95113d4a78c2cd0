package main

import (
	"os"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestMain lets integration tests run this test binary as the lvsd CLI
// (LVSD_TEST_MAIN=1), so they exercise the real command without a separate build.
func TestMain(m *testing.M) {
	if labtest.RunHelper() {
		os.Exit(0)
	}
	if os.Getenv("LVSD_TEST_MAIN") == "1" {
		os.Args = append([]string{"lvsd"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
