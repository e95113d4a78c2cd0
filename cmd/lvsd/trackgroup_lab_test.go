package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestTrackGroupMatchesKeepalived: a track_group makes its instances
// track the interface of a static route naming it; keepalived 2.2.7 then
// lvsd on one director: eth1 (the route's) going down puts VI_1 in FAULT,
// coming back lets it be MASTER again. The notify FIFO's lines must be
// the same.
func TestTrackGroupMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	ns := l.ns("d1")
	l.addEth1("d1")
	dir := t.TempDir()
	got := map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(dir, kind+".fifo")
		conf := fifoLabConf(fifo, `track_group G {
  group {
    VI_1
  }
}
static_routes {
  10.78.0.0/24 via 10.77.0.2 dev eth1 track_group G
}
`, "", "")
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", conf, "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		l.sh("ip -n %s link set eth1 down", ns)
		labtest.WaitFor(t, kind+": FAULT line", 10*time.Second, func() bool { return strings.Contains(strings.Join(tap.lines(), "\n"), " FAULT ") })
		if l.hasVIP("d1") {
			t.Errorf("%s: the VIP stayed in FAULT", kind)
		}
		l.sh("ip -n %s link set eth1 up", ns)
		labtest.WaitFor(t, kind+": MASTER again", masterDown(150)+10*time.Second, func() bool {
			return strings.Count(strings.Join(tap.lines(), "\n"), " MASTER ") == 2
		})
		p.signal(t, syscall.SIGTERM)
		got[kind] = tap.close()
		t.Logf("%s: notify_fifo:\n%s", kind, strings.Join(got[kind], "\n"))
	}
	k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n")
	if k != v {
		t.Errorf("notify_fifo differs:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
}
