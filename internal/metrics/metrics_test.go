package metrics

import (
	"bytes"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/vrrp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

type fakeSource struct{}

func (fakeSource) VRRPStatus() []vrrp.InstanceStatus {
	return []vrrp.InstanceStatus{{Name: "VI_1", Interface: "eth0", VRID: 51, State: "MASTER", Priority: 100, BasePriority: 100,
		Stats: vrrp.Stats{AdvertsSent: 10, AdvertsReceived: 2, Transitions: 2, Drops: map[vrrp.DropReason]uint64{vrrp.DropAuthPass: 3}}}}
}

func (fakeSource) CheckStatus() []check.Status {
	return []check.Status{{Key: check.Key{VS: "10.0.0.1:80/TCP", RS: netip.MustParseAddrPort("10.1.0.1:80"), Type: config.CheckTCP},
		Up: true, LastDuration: 3 * time.Millisecond, Checks: 7, Failures: 1, Unknown: 2}}
}

func (fakeSource) IPVSStats() ([]ipvs.ServiceStats, error) {
	return []ipvs.ServiceStats{{Key: ipvs.ServiceKey{Protocol: 6, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
		Stats: ipvs.Counters{Connections: 5, IncomingBytes: 100},
		Dests: []ipvs.DestStats{{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.1.0.1"), Port: 80}, Weight: 16, Active: 4}}}}, nil
}

func (fakeSource) Reloads() (uint64, uint64) { return 3, 1 }
func (fakeSource) SyncDaemonErrors() uint64  { return 2 }
func (fakeSource) IPVSReconciles() (uint64, uint64, uint64, bool) {
	return 7, 12, 1, true
}
func (fakeSource) ConfigHash() string       { return "abc123" }
func (fakeSource) ConfigSkippedErrors() int { return 2 }
func (fakeSource) BFDSessions() map[string]string {
	return map[string]string{"bfd_peer": "Up", "bfd_gone": "Down"}
}
func (fakeSource) IPVSSyncDaemons() ([]ipvs.SyncDaemon, bool) {
	return []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 51, MaxLen: 1472, Port: 8848, TTL: 1,
		Group: netip.MustParseAddr("224.0.0.81")}}, true
}

// TestMetricsLint runs promtool's linter (promlint, via testutil) over a
// full scrape and checks a few values.
func TestMetricsLint(t *testing.T) {
	c := NewCollector(fakeSource{})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP lvsd_config_reloads_total Configuration reloads, by result.
# TYPE lvsd_config_reloads_total counter
lvsd_config_reloads_total{result="failure"} 1
lvsd_config_reloads_total{result="success"} 3
# HELP lvsd_vrrp_priority Effective VRRP priority (after tracking weights).
# TYPE lvsd_vrrp_priority gauge
lvsd_vrrp_priority{instance="VI_1",interface="eth0",vrid="51"} 100
# HELP lvsd_ipvs_backend_connections_active Active connections to the real server.
# TYPE lvsd_ipvs_backend_connections_active gauge
lvsd_ipvs_backend_connections_active{local_address="10.0.0.1",local_mark="",local_port="80",proto="TCP",remote_address="10.1.0.1",remote_port="80"} 4
# HELP lvsd_check_unknown_total Checker attempts without a verdict: lvsd was out of a local resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) and the real server kept its state.
# TYPE lvsd_check_unknown_total counter
lvsd_check_unknown_total{checker="TCP_CHECK#0",real_server="10.1.0.1:80",virtual_server="10.0.0.1:80/TCP"} 2
# HELP lvsd_ipvs_sync_daemon_running The kernel's IPVS sync daemons lvsd manages (lvs_sync_daemon): 1 for a state running, 0 for one not running, as read back from the kernel.
# TYPE lvsd_ipvs_sync_daemon_running gauge
lvsd_ipvs_sync_daemon_running{state="backup"} 1
lvsd_ipvs_sync_daemon_running{state="master"} 0
# HELP lvsd_ipvs_sync_daemon_info A running IPVS sync daemon's settings as the kernel reports them (always 1).
# TYPE lvsd_ipvs_sync_daemon_info gauge
lvsd_ipvs_sync_daemon_info{group="224.0.0.81",interface="eth1",maxlen="1472",port="8848",state="backup",sync_id="51",ttl="1"} 1
# HELP lvsd_config_skipped_errors Errors in the running configuration that lvsd logged and ran past, leaving the item out, as keepalived 2.2.7 does (lvsd check-config lists them).
# TYPE lvsd_config_skipped_errors gauge
lvsd_config_skipped_errors 2
# HELP lvsd_ipvs_reconciles_total Reconciles of the kernel's IPVS table with the desired one (health changes, reloads, repairs).
# TYPE lvsd_ipvs_reconciles_total counter
lvsd_ipvs_reconciles_total 7
# HELP lvsd_ipvs_writes_total IPVS changes written to the kernel.
# TYPE lvsd_ipvs_writes_total counter
lvsd_ipvs_writes_total 12
# HELP lvsd_ipvs_errors_total IPVS writes or table reads the kernel refused; the next repair retries.
# TYPE lvsd_ipvs_errors_total counter
lvsd_ipvs_errors_total 1
# HELP lvsd_bfd_session_up BFD session of a bfd_instance: 1 Up, 0 otherwise (what track_bfd and BFD_CHECK see).
# TYPE lvsd_bfd_session_up gauge
lvsd_bfd_session_up{instance="bfd_gone"} 0
lvsd_bfd_session_up{instance="bfd_peer"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lvsd_config_reloads_total", "lvsd_vrrp_priority", "lvsd_ipvs_backend_connections_active", "lvsd_check_unknown_total",
		"lvsd_ipvs_sync_daemon_running", "lvsd_ipvs_sync_daemon_info", "lvsd_config_skipped_errors",
		"lvsd_ipvs_reconciles_total", "lvsd_ipvs_writes_total", "lvsd_ipvs_errors_total", "lvsd_bfd_session_up"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "lvsd_vrrp_state"); n != 5 {
		t.Errorf("lvsd_vrrp_state has %d series, want one per state (5)", n)
	}
}

// TestPromtoolCheckMetrics feeds a full scrape, in the text format the
// metrics endpoint serves, to `promtool check metrics` (Debian's
// prometheus package); it must find nothing to fix.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := labtest.NeedBinary(t, "promtool")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(fakeSource{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var scrape bytes.Buffer
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&scrape, mf); err != nil {
			t.Fatal(err)
		}
	}
	text := scrape.String()
	if !strings.Contains(text, "lvsd_vrrp_state") || !strings.Contains(text, "lvsd_ipvs_backend_connections_active") {
		t.Fatalf("scrape is missing series:\n%s", text)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
