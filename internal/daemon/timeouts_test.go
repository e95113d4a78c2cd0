package daemon

import (
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
)

// lvs_timeouts through a run, as keepalived 2.2.7's checker applies it:
// set at start (the timeout not given stays the kernel's), changed by a
// reload, put back by a reload without it, set again, and put back at stop.
func TestLVSTimeoutsThroughARun(t *testing.T) {
	with := func(line string) string { return "global_defs {\n  " + line + "\n}\n" + baseConf }
	h := start(t, with("lvs_timeouts tcp 7200 tcpfin 60"))
	waitTimeouts := func(what string, want ipvs.Timeouts) {
		t.Helper()
		for end := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			got, _ := h.kernel.Timeouts()
			if got == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%s: kernel timeouts %s, want %s", what, got, want)
			}
		}
	}
	waitTimeouts("start", ipvs.Timeouts{TCP: 7200, TCPFin: 60, UDP: 300})
	h.write(with("lvs_timeouts udp 100"))
	h.signals <- syscall.SIGHUP
	waitTimeouts("reload with udp only", ipvs.Timeouts{TCP: 900, TCPFin: 120, UDP: 100})
	h.write(baseConf)
	h.signals <- syscall.SIGHUP
	waitTimeouts("reload without lvs_timeouts", ipvs.KernelDefaultTimeouts)
	h.write(with("lvs_timeouts tcp 3600"))
	h.signals <- syscall.SIGHUP
	waitTimeouts("reload with tcp", ipvs.Timeouts{TCP: 3600, TCPFin: 120, UDP: 300})
	h.signals <- syscall.SIGTERM
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the cleanup
	waitTimeouts("stop", ipvs.KernelDefaultTimeouts)
}
