package main

import (
	"testing"
	"time"
)

// TestDownTimerAdvertsMatchesKeepalived: down_timer_adverts 6 on the backup
// of a VRRPv3 pair at 200 ms adverts, each daemon once as the backup of
// the other. After the master is killed (no priority 0), the backup takes
// over 6 intervals and its skew (1.32 s at priority 90) after the last
// advert, where the RFC's 3 would take 0.72 s: 1.12 to 1.32 s after the
// kill; both daemons must take about as long.
func TestDownTimerAdvertsMatchesKeepalived(t *testing.T) {
	const interval = 200 * time.Millisecond
	want := 6*interval + 120*time.Millisecond // skew: (256-90)*20/256 = 12 cs
	took := map[string]time.Duration{}
	for _, kinds := range [][2]string{{"keepalived", "lvsd"}, {"lvsd", "keepalived"}} {
		master, backup := kinds[0], kinds[1]
		t.Run(backup+"-backup", func(t *testing.T) {
			l := newVRRPLab(t, "d1", "d2")
			d1 := l.start(master, "d1", vrrpConf{priority: 100, version: 3, interval: "0.2"})
			l.start(backup, "d2", vrrpConf{priority: 90, version: 3, interval: "0.2", extra: "  down_timer_adverts 6\n"})
			l.waitFor("d1 master", 5*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
			time.Sleep(time.Second)
			// Every process of d1 at once: keepalived's VRRP child would
			// otherwise be told of its parent's death and say goodbye.
			l.sh("ip netns pids %s | xargs -r kill -9", l.ns("d1"))
			killed := time.Now()
			_ = d1.cmd.Wait()
			l.waitFor("d2 takes over", 5*time.Second, func() bool { return l.hasVIP("d2") })
			took[backup] = time.Since(killed)
			t.Logf("%s backup with down_timer_adverts 6: VIP %s after the master was killed (want about %s)", backup, took[backup].Round(time.Millisecond), want)
			if d := took[backup]; d < want-interval-100*time.Millisecond || d > want+500*time.Millisecond {
				t.Errorf("%s took over after %s, want about %s", backup, d, want)
			}
		})
	}
	t.Logf("takeover: keepalived %s, lvsd %s", took["keepalived"].Round(time.Millisecond), took["lvsd"].Round(time.Millisecond))
}
