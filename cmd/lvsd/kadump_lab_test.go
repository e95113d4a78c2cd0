package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/daemon"
	"github.com/lvsd/lvsd/internal/labtest"
)

// readDump sends sig to the daemon and waits for the file it writes.
func (p *daemonProc) readDump(t *testing.T, sig syscall.Signal, file string) string {
	t.Helper()
	path := filepath.Join(p.dumpDir, file)
	_ = os.Remove(path)
	_ = p.cmd.Process.Signal(sig)
	var b []byte
	labtest.WaitFor(t, p.kind+" writes "+file, 5*time.Second, func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil && len(b) > 0
	})
	if p.kind == "lvsd" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: only root may read it", path, fi.Mode().Perm())
		}
	}
	return string(b)
}

// scrape reads the metrics endpoint of the lvsd running in host's
// namespace (its default listener, 127.0.0.1:9650 there).
func (l *vrrpLab) scrape(t *testing.T, host string) string {
	t.Helper()
	var body []byte
	// The connection is made on InNetns's thread (http.Transport would
	// dial from a goroutine of its own, outside the namespace).
	var conn net.Conn
	err := labtest.InNetns(l.ns(host), func() error {
		var err error
		conn, err = net.DialTimeout("tcp", "127.0.0.1:9650", 5*time.Second)
		return err
	})
	if err == nil {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}}
		var resp *http.Response
		resp, err = c.Get("http://127.0.0.1:9650/metrics")
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	if err != nil {
		t.Fatalf("scraping lvsd on %s: %v", host, err)
	}
	return string(body)
}

// series finds one sample's value in an exposition text.
func series(text, sample string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, sample+" ") {
			return strings.TrimPrefix(line, sample+" ")
		}
	}
	return "absent"
}

type kaStats struct {
	Data struct {
		Iname string `json:"iname"`
		State int    `json:"state"`
		Vrid  int    `json:"vrid"`
	} `json:"data"`
	Stats map[string]uint64 `json:"stats"`
}

// TestKeepalivedDumpsAndExporterSeries: the same failover run twice in one
// test, once with lvsd as the instance observed and keepalived 2.2.7 as
// its peer, once the other way round. The observed daemon becomes master
// alone, is preempted by the peer (priority 200), and takes the address
// back when the peer stops (its priority-0 advert). Then SIGUSR2 and
// SIGJSON: lvsd's stats and JSON dumps have keepalived's layout and keys
// and the same become/release/priority-zero counts; keepalived's exporter
// series on lvsd's metrics endpoint follow the failover (state 2 → 1 → 2,
// become_master 1 → 2).
func TestKeepalivedDumpsAndExporterSeries(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	dumps := map[string]map[string]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		peer := map[string]string{"lvsd": "keepalived", "keepalived": "lvsd"}[kind]
		l := newVRRPLab(t, "d1", "d2")
		d1 := l.start(kind, "d1", vrrpConf{priority: 100, auth: true})
		l.waitFor(kind+" becomes master alone", masterDown(100)+2*time.Second, func() bool { return l.hasVIP("d1") })
		stateSample := fmt.Sprintf(`keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="%s",vrid="51"}`, labVIP)
		becomeSample := `keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"}`
		if kind == "lvsd" {
			m := l.scrape(t, "d1")
			if got := series(m, "keepalived_up"); got != "1" {
				t.Errorf("keepalived_up %s, want 1", got)
			}
			if s, b := series(m, stateSample), series(m, becomeSample); s != "2" || b != "1" {
				t.Errorf("as master: keepalived_vrrp_state %s, become_master %s; want 2 and 1", s, b)
			}
		}
		d2 := l.start(peer, "d2", vrrpConf{priority: 200, auth: true})
		l.waitFor(peer+" preempts", masterDown(200)+3*time.Second, func() bool { return l.hasVIP("d2") && !l.hasVIP("d1") })
		if kind == "lvsd" {
			m := l.scrape(t, "d1")
			release := `keepalived_release_master_total{iname="VI_1",intf="eth0",vrid="51"}`
			if s, r := series(m, stateSample), series(m, release); s != "1" || r != "1" {
				t.Errorf("preempted: keepalived_vrrp_state %s, release_master %s; want 1 and 1", s, r)
			}
		}
		d2.signal(t, syscall.SIGTERM)
		l.waitFor(kind+" takes the address back", 3*time.Second, func() bool { return l.hasVIP("d1") })
		time.Sleep(1500 * time.Millisecond) // an advert or two as master
		if kind == "lvsd" {
			m := l.scrape(t, "d1")
			zero := `keepalived_priority_zero_received_total{iname="VI_1",intf="eth0",vrid="51"}`
			if s, b, z := series(m, stateSample), series(m, becomeSample), series(m, zero); s != "2" || b != "2" || z != "1" {
				t.Errorf("after the peer stopped: keepalived_vrrp_state %s, become_master %s, priority_zero_received %s; want 2, 2, 1", s, b, z)
			}
		}
		dumps[kind] = map[string]string{
			"stats": d1.readDump(t, syscall.SIGUSR2, "keepalived.stats"),
			"json":  d1.readDump(t, daemon.SigJSON, "keepalived.json"),
			"data":  d1.readDump(t, syscall.SIGUSR1, "keepalived.data"),
		}
		d1.signal(t, syscall.SIGTERM)
	}
	// Stats: the same lines; counters that depend on timing (adverts)
	// aside, the same values.
	numbers := regexp.MustCompile(`(?m)^(    (Received|Sent)): \d+$`)
	norm := func(s string) string { return numbers.ReplaceAllString(s, "$1: N") }
	ka, lv := dumps["keepalived"]["stats"], dumps["lvsd"]["stats"]
	if norm(ka) != norm(lv) {
		t.Errorf("stats dumps differ beyond advert counts:\n--- keepalived 2.2.7\n%s--- lvsd\n%s", ka, lv)
	}
	if !strings.Contains(lv, "  Became master: 2\n  Released master: 1\n") {
		t.Errorf("lvsd's stats: want Became master 2, Released master 1:\n%s", lv)
	}
	// JSON: the same keys in data and stats, the same state and counts.
	var kaj, lvj []kaStats
	var kaKeys, lvKeys []map[string]map[string]any
	for _, x := range []struct {
		text string
		v    any
	}{{dumps["keepalived"]["json"], &kaj}, {dumps["lvsd"]["json"], &lvj}, {dumps["keepalived"]["json"], &kaKeys}, {dumps["lvsd"]["json"], &lvKeys}} {
		if err := json.Unmarshal([]byte(x.text), x.v); err != nil {
			t.Fatalf("JSON dump %q: %v", x.text, err)
		}
	}
	if len(kaj) != 1 || len(lvj) != 1 {
		t.Fatalf("instances in the JSON dumps: keepalived %d, lvsd %d", len(kaj), len(lvj))
	}
	for _, part := range []string{"data", "stats"} {
		for k := range kaKeys[0][part] {
			if _, ok := lvKeys[0][part][k]; !ok && k != "auth_data" {
				t.Errorf("lvsd's JSON %s lacks keepalived's %q", part, k)
			}
		}
		for k := range lvKeys[0][part] {
			if _, ok := kaKeys[0][part][k]; !ok && k != "auth_data" {
				t.Errorf("lvsd's JSON %s has %q, keepalived's has not", part, k)
			}
		}
	}
	if kaj[0].Data.State != 2 || lvj[0].Data.State != 2 {
		t.Errorf("JSON state: keepalived %d, lvsd %d, want 2 (MASTER)", kaj[0].Data.State, lvj[0].Data.State)
	}
	for _, k := range []string{"become_master", "release_master", "pri_zero_rcvd", "pri_zero_sent", "auth_failure", "addr_list_err"} {
		if kaj[0].Stats[k] != lvj[0].Stats[k] {
			t.Errorf("JSON stats %s: keepalived %d, lvsd %d", k, kaj[0].Stats[k], lvj[0].Stats[k])
		}
	}
	// Data: the lines the keepalived exporter parses are there in both.
	for _, want := range []string{" VRRP Instance = VI_1\n", "\n   State = MASTER\n", "\n   Interface = eth0\n",
		"\n   Virtual Router ID = 51\n", "\n   Gratuitous ARP delay = 5\n", "\n   Virtual IP (1):\n     " + labVIP + "/24 dev eth0 scope global set\n"} {
		for _, kind := range []string{"keepalived", "lvsd"} {
			if !strings.Contains(dumps[kind]["data"], want) {
				t.Errorf("%s's data dump lacks %q", kind, want)
			}
		}
	}
}
