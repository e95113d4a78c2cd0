package metrics

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/internal/kadump"
	"github.com/prometheus/client_golang/prometheus"
)

// KeepalivedSource is what the keepalived-exporter series are read from:
// the same values keepalived's dumps carry, so a dump and a scrape agree.
type KeepalivedSource interface {
	KeepalivedDump() ([]kadump.Instance, []kadump.Script)
}

// The series of mehdy/keepalived-exporter (the exporter most keepalived
// dashboards and alert rules are built on), with its names, labels and
// help texts, so that its Grafana dashboard and alerts keep working when
// lvsd replaces keepalived and the exporter: lvsd answers them itself.
var (
	kaLabels    = []string{"iname", "intf", "vrid"}
	kaVIPLabels = []string{"iname", "intf", "vrid", "ip_address"}
	kaUp        = prometheus.NewDesc("keepalived_up", "Status", nil, nil)
	kaState     = prometheus.NewDesc("keepalived_vrrp_state", "State of vrrp", kaVIPLabels, nil)
	kaExcluded  = prometheus.NewDesc("keepalived_vrrp_excluded_state", "State of vrrp with excluded VIP", kaVIPLabels, nil)
	kaScript    = prometheus.NewDesc("keepalived_script_status", "Tracker Script Status", []string{"name"}, nil)
	kaScriptSt  = prometheus.NewDesc("keepalived_script_state", "Tracker Script State", []string{"name"}, nil)
	kaCounters  = []struct {
		desc *prometheus.Desc
		get  func(*kadump.Instance) float64
	}{
		{kaDesc("keepalived_advertisements_received_total", "Advertisements received"), func(i *kadump.Instance) float64 { return float64(i.Stats.AdvertRcvd) }},
		{kaDesc("keepalived_advertisements_sent_total", "Advertisements sent"), func(i *kadump.Instance) float64 { return float64(i.Stats.AdvertSent) }},
		{kaDesc("keepalived_become_master_total", "Became master"), func(i *kadump.Instance) float64 { return float64(i.Stats.BecomeMaster) }},
		{kaDesc("keepalived_release_master_total", "Released master"), func(i *kadump.Instance) float64 { return float64(i.Stats.ReleaseMaster) }},
		{kaDesc("keepalived_packet_length_errors_total", "Packet length errors"), func(i *kadump.Instance) float64 { return float64(i.Stats.PacketLenErr) }},
		{kaDesc("keepalived_advertisements_interval_errors_total", "Advertisement interval errors"), func(i *kadump.Instance) float64 { return float64(i.Stats.AdvertIntervalErr) }},
		{kaDesc("keepalived_ip_ttl_errors_total", "TTL errors"), func(i *kadump.Instance) float64 { return float64(i.Stats.IPTTLErr) }},
		{kaDesc("keepalived_invalid_type_received_total", "Invalid type errors"), func(i *kadump.Instance) float64 { return float64(i.Stats.InvalidTypeRcvd) }},
		{kaDesc("keepalived_address_list_errors_total", "Address list errors"), func(i *kadump.Instance) float64 { return float64(i.Stats.AddrListErr) }},
		{kaDesc("keepalived_authentication_invalid_total", "Authentication invalid"), func(i *kadump.Instance) float64 { return float64(i.Stats.InvalidAuthType) }},
		{kaDesc("keepalived_authentication_mismatch_total", "Authentication mismatch"), func(i *kadump.Instance) float64 { return float64(i.Stats.AuthTypeMismatch) }},
		{kaDesc("keepalived_authentication_failure_total", "Authentication failure"), func(i *kadump.Instance) float64 { return float64(i.Stats.AuthFailure) }},
		{kaDesc("keepalived_priority_zero_received_total", "Priority zero received"), func(i *kadump.Instance) float64 { return float64(i.Stats.PriZeroRcvd) }},
		{kaDesc("keepalived_priority_zero_sent_total", "Priority zero sent"), func(i *kadump.Instance) float64 { return float64(i.Stats.PriZeroSent) }},
		// The exporter reports the configured delay (in seconds) under a
		// counter's name; its dashboards take rate() of it. Kept as it is.
		{kaDesc("keepalived_gratuitous_arp_delay_total", "Gratuitous ARP delay"), func(i *kadump.Instance) float64 { return float64(int64(i.GARPDelay.Seconds())) }},
	}
)

func kaDesc(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, kaLabels, nil) }

// KeepalivedCollector exports the keepalived exporter's series.
type KeepalivedCollector struct{ src KeepalivedSource }

func NewKeepalivedCollector(src KeepalivedSource) *KeepalivedCollector {
	return &KeepalivedCollector{src: src}
}

func (c *KeepalivedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{kaUp, kaState, kaExcluded, kaScript, kaScriptSt} {
		ch <- d
	}
	for _, k := range kaCounters {
		ch <- k.desc
	}
}

// vipLabels splits keepalived's address text ("10.0.0.1/24 dev eth0 scope
// global set") as the exporter's ParseVIP does: the address without its
// prefix length, and the device.
func vipLabels(s string) (addr, dev string, ok bool) {
	f := strings.Fields(s)
	if len(f) < 3 || f[1] != "dev" {
		return "", "", false
	}
	a := f[0]
	if p, err := netip.ParsePrefix(a); err == nil {
		a = p.Addr().String()
	}
	return a, f[2], true
}

func (c *KeepalivedCollector) Collect(ch chan<- prometheus.Metric) {
	insts, scripts := c.src.KeepalivedDump()
	ch <- prometheus.MustNewConstMetric(kaUp, prometheus.GaugeValue, 1)
	for i := range insts {
		in := &insts[i]
		vrid := strconv.Itoa(in.VRID)
		for _, k := range kaCounters {
			ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, k.get(in), in.Name, in.Interface, vrid)
		}
		state := float64(in.State)
		for _, v := range in.VIPs {
			if a, dev, ok := vipLabels(v); ok {
				ch <- prometheus.MustNewConstMetric(kaState, prometheus.GaugeValue, state, in.Name, dev, vrid, a)
			}
		}
		for _, v := range in.ExcludedVIPs {
			if a, dev, ok := vipLabels(v); ok {
				ch <- prometheus.MustNewConstMetric(kaExcluded, prometheus.GaugeValue, state, in.Name, dev, vrid, a)
			}
		}
		if len(in.VIPs) == 0 {
			ch <- prometheus.MustNewConstMetric(kaState, prometheus.GaugeValue, state, in.Name, in.Interface, vrid, "")
		}
	}
	for _, s := range scripts {
		v := 0.0
		if s.Good {
			v = 1 // the exporter's index into {"BAD", "GOOD"}
		}
		ch <- prometheus.MustNewConstMetric(kaScript, prometheus.GaugeValue, v, s.Name)
		// lvsd runs a track script between results, never leaving it
		// running past its turn: the exporter's "idle" (0).
		ch <- prometheus.MustNewConstMetric(kaScriptSt, prometheus.GaugeValue, 0, s.Name)
	}
}
