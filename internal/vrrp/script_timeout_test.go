package vrrp

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestScriptTimeoutShorterThanInterval: keepalived 2.2.7 kills a track
// script after its timeout when one is set, even if the interval is longer
// (vrrp_scheduler.c vrrp_script_thread: timeout ? timeout : interval). A
// script running 1.5 s with interval 3 fails with timeout 1 and succeeds
// without it.
func TestScriptTimeoutShorterThanInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kw   string
		want int
	}{{"timeout 1\n  fall 1", 70}, {"fall 1", 100}} {
		t.Run(strings.Fields(tc.kw)[0], func(t *testing.T) {
			t.Parallel()
			p := newFakePlatform()
			p.hold["/usr/local/bin/chk"] = 1500 * time.Millisecond
			conf := strings.Replace(strings.Replace(strings.Replace(scriptKwConf, "rise 20", "rise 1", 1), "interval 0.05", "interval 3", 1), "%s", tc.kw, 1)
			r := startRouter(t, conf, p)
			labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
			labtest.WaitFor(t, "the first run's result", 4*time.Second, func() bool { return r.Status()[0].Priority == tc.want })
			time.Sleep(2 * time.Second) // the first run has ended either way
			if got := r.Status()[0].Priority; got != tc.want {
				t.Errorf("priority %d after the first run, want %d", got, tc.want)
			}
		})
	}
}
