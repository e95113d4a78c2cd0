package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/kadump"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeKeepalived struct{}

func (fakeKeepalived) KeepalivedDump() ([]kadump.Instance, []kadump.Script) {
	return []kadump.Instance{{Name: "VI_1", Interface: "eth0", VRID: 51, State: kadump.StateBackup, GARPDelay: 5 * time.Second,
			VIPs:         []string{"10.0.0.100/24 dev eth0 scope global", "10.0.0.101 dev eth1 scope global"},
			ExcludedVIPs: []string{"fe80::1/64 dev eth0 scope link"},
			Stats:        kadump.Stats{AdvertRcvd: 7, AdvertSent: 3, BecomeMaster: 1, ReleaseMaster: 1, AuthFailure: 2, PriZeroRcvd: 1}},
			{Name: "VI_2", Interface: "eth1", VRID: 52, State: kadump.StateMaster}},
		[]kadump.Script{{Name: "chk_up", Good: true}, {Name: "chk_down"}}
}

// The series, names, labels and values mehdy/keepalived-exporter
// (internal/collector/collector.go) exports for the same keepalived state:
// one keepalived_vrrp_state per VIP (address without its prefix length),
// one with ip_address "" for an instance without VIPs, the excluded VIPs
// apart, counters per instance, and script status 1 GOOD / 0 BAD.
func TestKeepalivedExporterSeries(t *testing.T) {
	want := `
# HELP keepalived_up Status
# TYPE keepalived_up gauge
keepalived_up 1
# HELP keepalived_vrrp_state State of vrrp
# TYPE keepalived_vrrp_state gauge
keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="10.0.0.100",vrid="51"} 1
keepalived_vrrp_state{iname="VI_1",intf="eth1",ip_address="10.0.0.101",vrid="51"} 1
keepalived_vrrp_state{iname="VI_2",intf="eth1",ip_address="",vrid="52"} 2
# HELP keepalived_vrrp_excluded_state State of vrrp with excluded VIP
# TYPE keepalived_vrrp_excluded_state gauge
keepalived_vrrp_excluded_state{iname="VI_1",intf="eth0",ip_address="fe80::1",vrid="51"} 1
# HELP keepalived_become_master_total Became master
# TYPE keepalived_become_master_total counter
keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_become_master_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_release_master_total Released master
# TYPE keepalived_release_master_total counter
keepalived_release_master_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_release_master_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_advertisements_received_total Advertisements received
# TYPE keepalived_advertisements_received_total counter
keepalived_advertisements_received_total{iname="VI_1",intf="eth0",vrid="51"} 7
keepalived_advertisements_received_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_authentication_failure_total Authentication failure
# TYPE keepalived_authentication_failure_total counter
keepalived_authentication_failure_total{iname="VI_1",intf="eth0",vrid="51"} 2
keepalived_authentication_failure_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_priority_zero_received_total Priority zero received
# TYPE keepalived_priority_zero_received_total counter
keepalived_priority_zero_received_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_priority_zero_received_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_gratuitous_arp_delay_total Gratuitous ARP delay
# TYPE keepalived_gratuitous_arp_delay_total counter
keepalived_gratuitous_arp_delay_total{iname="VI_1",intf="eth0",vrid="51"} 5
keepalived_gratuitous_arp_delay_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_script_status Tracker Script Status
# TYPE keepalived_script_status gauge
keepalived_script_status{name="chk_down"} 0
keepalived_script_status{name="chk_up"} 1
`
	c := NewKeepalivedCollector(fakeKeepalived{})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "keepalived_up", "keepalived_vrrp_state", "keepalived_vrrp_excluded_state",
		"keepalived_become_master_total", "keepalived_release_master_total", "keepalived_advertisements_received_total",
		"keepalived_authentication_failure_total", "keepalived_priority_zero_received_total", "keepalived_gratuitous_arp_delay_total",
		"keepalived_script_status"); err != nil {
		t.Error(err)
	}
	// Every series name of the exporter's fillMetrics but its own
	// check-script one (keepalived_exporter_check_script_status, the
	// exporter running a user's script per VIP, which lvsd does not do).
	exporter := []string{"keepalived_up", "keepalived_vrrp_state", "keepalived_vrrp_excluded_state", "keepalived_gratuitous_arp_delay_total",
		"keepalived_advertisements_received_total", "keepalived_advertisements_sent_total", "keepalived_become_master_total",
		"keepalived_release_master_total", "keepalived_packet_length_errors_total", "keepalived_advertisements_interval_errors_total",
		"keepalived_ip_ttl_errors_total", "keepalived_invalid_type_received_total", "keepalived_address_list_errors_total",
		"keepalived_authentication_invalid_total", "keepalived_authentication_mismatch_total", "keepalived_authentication_failure_total",
		"keepalived_priority_zero_received_total", "keepalived_priority_zero_sent_total", "keepalived_script_status", "keepalived_script_state"}
	n, err := testutil.GatherAndCount(registryOf(c), exporter...)
	if err != nil {
		t.Fatal(err)
	}
	// 1 up + 3 state + 1 excluded + 2 instances × 15 counters + 2 × 2 script series
	if want := 1 + 3 + 1 + 2*15 + 4; n != want {
		t.Errorf("%d series of the exporter's names, want %d", n, want)
	}
}

func registryOf(c prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return reg
}

func TestAlertSeries(t *testing.T) {
	c := NewAlertCollector(func() AlertStats {
		return AlertStats{Sent: 3, Failed: 1, Dropped: 2, Retries: 4, Queued: 5, FIFODropped: 6}
	})
	want := `
# HELP lvsd_smtp_alerts_total keepalived-style e-mail alerts: sent, failed (given up after bounded retries) or dropped (the queue was full).
# TYPE lvsd_smtp_alerts_total counter
lvsd_smtp_alerts_total{result="dropped"} 2
lvsd_smtp_alerts_total{result="failed"} 1
lvsd_smtp_alerts_total{result="sent"} 3
# HELP lvsd_smtp_alert_retries_total E-mail alert attempts after a failed one.
# TYPE lvsd_smtp_alert_retries_total counter
lvsd_smtp_alert_retries_total 4
# HELP lvsd_smtp_alert_queue E-mail alerts waiting to be sent.
# TYPE lvsd_smtp_alert_queue gauge
lvsd_smtp_alert_queue 5
# HELP lvsd_notify_fifo_dropped_total Notify FIFO lines dropped because the pipe was full (nobody reading).
# TYPE lvsd_notify_fifo_dropped_total counter
lvsd_notify_fifo_dropped_total 6
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
