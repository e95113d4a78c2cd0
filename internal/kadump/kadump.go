// Package kadump writes keepalived 2.2.7's VRRP dumps from lvsd's state:
// the stats file (SIGUSR2, keepalived.stats), the VRRP part of the data
// file (SIGUSR1, keepalived.data) and the JSON dump (SIGJSON, SIGRTMIN+2,
// keepalived.json), in keepalived's formats, so that tools which read
// them (the keepalived exporters, operators' scripts) keep working. The
// same Instance values feed the keepalived-exporter metric series, so a
// dump and a scrape never disagree.
//
// Writers are pure: the caller gathers the values and picks the file.
package kadump

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// State is keepalived's numbering of VRRP states (vrrp.h), which the
// JSON dump and keepalived_vrrp_state carry as numbers.
type State int

const (
	StateInit   State = 0
	StateBackup State = 1
	StateMaster State = 2
	StateFault  State = 3
	StateStop   State = 98
)

// StateOf maps lvsd's state names to keepalived's numbers.
func StateOf(name string) State {
	switch name {
	case "BACKUP":
		return StateBackup
	case "MASTER":
		return StateMaster
	case "FAULT":
		return StateFault
	case "STOP", "STOPPED":
		return StateStop
	}
	return StateInit
}

func (s State) String() string {
	switch s {
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	}
	return "INIT"
}

// Stats are keepalived's per-instance counters (vrrp_stats), named as in
// its JSON dump.
type Stats struct {
	AdvertRcvd        uint64
	AdvertSent        uint64
	BecomeMaster      uint64
	ReleaseMaster     uint64
	PacketLenErr      uint64
	AdvertIntervalErr uint64
	IPTTLErr          uint64
	InvalidTypeRcvd   uint64
	AddrListErr       uint64
	InvalidAuthType   uint64
	AuthTypeMismatch  uint64
	AuthFailure       uint64
	PriZeroRcvd       uint64
	PriZeroSent       uint64
}

// Instance is one VRRP instance as keepalived's dumps describe it.
type Instance struct {
	Name      string
	Interface string
	VRID      int
	Version   int
	State     State
	WantState State

	BasePriority      int
	EffectivePriority int
	MasterPriority    int
	LastTransition    time.Time

	AdvertInt       time.Duration
	MasterAdvertInt time.Duration
	SrcIP           string
	// McastAddr is empty for a unicast instance.
	McastAddr string

	GARPDelay           time.Duration
	GARPRepeat          int
	GARPRefresh         time.Duration
	GARPRefreshRepeat   int
	GARPLowerPrioDelay  time.Duration
	GARPLowerPrioRepeat int

	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	NoPreempt            bool
	PreemptDelay         time.Duration
	StrictMode           bool
	Accept               bool
	DontTrackPrimary     bool
	PromoteSecondaries   bool
	SkipCheckAdvAddr     bool
	SMTPAlert            bool
	VIPSet               bool

	// VIPs and ExcludedVIPs as keepalived formats an address:
	// "10.0.0.1/24 dev eth0 scope global", plus " set" while installed.
	VIPs         []string
	ExcludedVIPs []string
	// TrackInterfaces are interface names; TrackScripts are the tracked
	// vrrp_scripts with the weight they apply.
	TrackInterfaces []string
	TrackScripts    []TrackedScript

	// AuthType: 0 none, 1 PASS, 2 AH (keepalived's numbers).
	AuthType int
	AuthData string

	// Notify scripts as written (command line); empty when not set.
	Notify, NotifyMaster, NotifyBackup, NotifyFault, NotifyStop string
	// NotifyDeleted is notify_deleted, NotifyDeletedScript its script.
	NotifyDeleted       bool
	NotifyDeletedScript string

	Stats Stats
}

// TrackedScript is a vrrp_script an instance tracks.
type TrackedScript struct {
	Name    string
	Command string
	Weight  int
}

// Script is a vrrp_script block as the data dump lists it.
type Script struct {
	Name     string
	Command  string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	Rise     int
	Fall     int
	// Good is the script's current verdict (keepalived's Status GOOD/BAD).
	Good bool
	// Tracking lists the instances tracking it, with their weights.
	Tracking []TrackedBy
}

// TrackedBy is an instance tracking a script, with the weight applied.
type TrackedBy struct {
	Instance string
	Weight   int
}

// WriteStats writes keepalived's keepalived.stats (vrrp_print_stats).
func WriteStats(w io.Writer, insts []Instance) error {
	b := bufio.NewWriter(w)
	for _, in := range insts {
		s := in.Stats
		fmt.Fprintf(b, "VRRP Instance: %s\n", in.Name)
		fmt.Fprintf(b, "  Advertisements:\n    Received: %d\n    Sent: %d\n", s.AdvertRcvd, s.AdvertSent)
		fmt.Fprintf(b, "  Became master: %d\n  Released master: %d\n", s.BecomeMaster, s.ReleaseMaster)
		fmt.Fprintf(b, "  Packet Errors:\n    Length: %d\n    TTL: %d\n    Invalid Type: %d\n    Advertisement Interval: %d\n    Address List: %d\n",
			s.PacketLenErr, s.IPTTLErr, s.InvalidTypeRcvd, s.AdvertIntervalErr, s.AddrListErr)
		fmt.Fprintf(b, "  Authentication Errors:\n    Invalid Type: %d\n    Type Mismatch: %d\n    Failure: %d\n",
			s.InvalidAuthType, s.AuthTypeMismatch, s.AuthFailure)
		fmt.Fprintf(b, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", s.PriZeroRcvd, s.PriZeroSent)
	}
	return b.Flush()
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// timestamp formats as keepalived's "%ld.%6.6ld (%s)" with ctime-like text.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "0.000000 (Thu Jan  1 00:00:00.000000 1970)"
	}
	return fmt.Sprintf("%d.%06d (%s)", t.Unix(), t.Nanosecond()/1000, t.Format("Mon Jan _2 15:04:05.000000 2006"))
}

// WriteData writes the VRRP sections of keepalived's keepalived.data
// (dump_vrrp and dump_vscript of vrrp_data.c): "VRRP Topology" and
// "VRRP Scripts". keepalived's other sections (global definitions,
// socket pool, interfaces) describe its own internals and are left out.
func WriteData(w io.Writer, insts []Instance, scripts []Script) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "------< VRRP Topology >------")
	for _, in := range insts {
		fmt.Fprintf(b, " VRRP Instance = %s\n", in.Name)
		fmt.Fprintf(b, "   VRRP Version = %d\n", in.Version)
		fmt.Fprintf(b, "   State = %s\n", in.State)
		fmt.Fprintf(b, "   Flags: none\n")
		fmt.Fprintf(b, "   Wantstate = %s\n", in.WantState)
		fmt.Fprintf(b, "   Last transition = %s\n", timestamp(in.LastTransition))
		fmt.Fprintf(b, "   Interface = %s\n", in.Interface)
		if in.DontTrackPrimary {
			fmt.Fprintf(b, "   VRRP interface tracking disabled\n")
		}
		if in.SkipCheckAdvAddr {
			fmt.Fprintf(b, "   Skip checking advert IP addresses\n")
		}
		if in.SrcIP != "" {
			fmt.Fprintf(b, "   Using src_ip = %s\n", in.SrcIP)
		}
		if in.McastAddr != "" {
			fmt.Fprintf(b, "   Multicast address %s\n", in.McastAddr)
		}
		fmt.Fprintf(b, "   Gratuitous ARP delay = %s\n", seconds(in.GARPDelay))
		fmt.Fprintf(b, "   Gratuitous ARP repeat = %d\n", in.GARPRepeat)
		fmt.Fprintf(b, "   Gratuitous ARP refresh = %s\n", seconds(in.GARPRefresh))
		fmt.Fprintf(b, "   Gratuitous ARP refresh repeat = %d\n", in.GARPRefreshRepeat)
		fmt.Fprintf(b, "   Gratuitous ARP lower priority delay = %s\n", seconds(in.GARPLowerPrioDelay))
		fmt.Fprintf(b, "   Gratuitous ARP lower priority repeat = %d\n", in.GARPLowerPrioRepeat)
		fmt.Fprintf(b, "   Send advert after receive lower priority advert = %t\n", !in.LowerPrioNoAdvert)
		fmt.Fprintf(b, "   Send advert after receive higher priority advert = %t\n", in.HigherPrioSendAdvert)
		fmt.Fprintf(b, "   Virtual Router ID = %d\n", in.VRID)
		fmt.Fprintf(b, "   Priority = %d\n", in.BasePriority)
		fmt.Fprintf(b, "   Effective priority = %d\n", in.EffectivePriority)
		fmt.Fprintf(b, "   Total priority = %d\n", in.EffectivePriority)
		if in.AdvertInt%time.Second == 0 {
			fmt.Fprintf(b, "   Advert interval = %d sec\n", in.AdvertInt/time.Second)
		} else {
			fmt.Fprintf(b, "   Advert interval = %d milli-sec\n", in.AdvertInt/time.Millisecond)
		}
		fmt.Fprintf(b, "   Accept = %s\n", enabled(in.Accept))
		if in.NoPreempt {
			fmt.Fprintf(b, "   Preempt = disabled\n")
		} else {
			fmt.Fprintf(b, "   Preempt = enabled\n")
		}
		if in.PreemptDelay > 0 {
			fmt.Fprintf(b, "   Preempt delay = %g secs\n", in.PreemptDelay.Seconds())
		}
		fmt.Fprintf(b, "   Promote_secondaries = %s\n", enabled(in.PromoteSecondaries))
		switch in.AuthType {
		case 1:
			fmt.Fprintf(b, "   Authentication type = SIMPLE_PASSWORD\n   Password = %s\n", in.AuthData)
		case 2:
			fmt.Fprintf(b, "   Authentication type = IPSEC_AH\n   Password = %s\n", in.AuthData)
		default:
			fmt.Fprintf(b, "   Authentication type = none\n")
		}
		if len(in.TrackInterfaces) > 0 {
			fmt.Fprintf(b, "   Tracked interfaces :\n")
			for _, i := range in.TrackInterfaces {
				fmt.Fprintf(b, "     %s\n", i)
			}
		}
		fmt.Fprintf(b, "   Virtual IP (%d):\n", len(in.VIPs))
		for _, v := range in.VIPs {
			fmt.Fprintf(b, "     %s\n", v)
		}
		if len(in.ExcludedVIPs) > 0 {
			fmt.Fprintf(b, "   Virtual IP Excluded :\n")
			for _, v := range in.ExcludedVIPs {
				fmt.Fprintf(b, "     %s\n", v)
			}
		}
		if len(in.TrackScripts) > 0 {
			fmt.Fprintf(b, "   Tracked scripts :\n")
			for _, s := range in.TrackScripts {
				fmt.Fprintf(b, "     %s weight %d\n", s.Name, s.Weight)
			}
		}
		for _, n := range []struct{ label, cmd string }{{"Backup state transition script", in.NotifyBackup},
			{"Master state transition script", in.NotifyMaster}, {"Fault state transition script", in.NotifyFault},
			{"Stop state transition script", in.NotifyStop}, {"Deleted state transition script", in.NotifyDeletedScript},
			{"Generic state transition script", in.Notify}} {
			if n.cmd != "" {
				fmt.Fprintf(b, "   %s = '%s'\n", n.label, n.cmd)
			}
		}
		if in.SMTPAlert {
			fmt.Fprintf(b, "   Using smtp notification = yes\n")
		} else {
			fmt.Fprintf(b, "   Using smtp notification = no\n")
		}
	}
	if len(scripts) > 0 {
		fmt.Fprintln(b, "------< VRRP Scripts >------")
		for _, s := range scripts {
			fmt.Fprintf(b, " VRRP Script = %s\n", s.Name)
			fmt.Fprintf(b, "   Command = '%s'\n", s.Command)
			fmt.Fprintf(b, "   Interval = %s sec\n", seconds(s.Interval))
			fmt.Fprintf(b, "   Timeout = %s sec\n", seconds(s.Timeout))
			fmt.Fprintf(b, "   Weight = %d\n", s.Weight)
			fmt.Fprintf(b, "   Rise = %d\n   Fall = %d\n", s.Rise, s.Fall)
			if s.Good {
				fmt.Fprintf(b, "   Status = GOOD\n")
			} else {
				fmt.Fprintf(b, "   Status = BAD\n")
			}
			fmt.Fprintf(b, "   Tracking instances :\n")
			for _, t := range s.Tracking {
				fmt.Fprintf(b, "     %s, weight %d\n", t.Instance, t.Weight)
			}
			fmt.Fprintf(b, "   State = idle\n")
		}
	}
	return b.Flush()
}

// jsonWriter reproduces keepalived's json_writer: no spaces, '/' escaped.
type jsonWriter struct {
	b     *bufio.Writer
	first bool
}

func (j *jsonWriter) sep() {
	if !j.first {
		j.b.WriteByte(',')
	}
	j.first = false
}

func (j *jsonWriter) str(s string) {
	j.b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			j.b.WriteString(`\"`)
		case '\\':
			j.b.WriteString(`\\`)
		case '/':
			j.b.WriteString(`\/`)
		case '\n':
			j.b.WriteString(`\n`)
		case '\r':
			j.b.WriteString(`\r`)
		case '\t':
			j.b.WriteString(`\t`)
		case '\b':
			j.b.WriteString(`\b`)
		case '\f':
			j.b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(j.b, `\u%04x`, r)
			} else {
				j.b.WriteRune(r)
			}
		}
	}
	j.b.WriteByte('"')
}

func (j *jsonWriter) name(n string) { j.sep(); j.str(n); j.b.WriteByte(':') }
func (j *jsonWriter) raw(n, v string) {
	j.name(n)
	j.b.WriteString(v)
}
func (j *jsonWriter) uint(n string, v uint64) { j.raw(n, strconv.FormatUint(v, 10)) }
func (j *jsonWriter) int(n string, v int)     { j.raw(n, strconv.Itoa(v)) }
func (j *jsonWriter) bool(n string, v bool)   { j.raw(n, strconv.FormatBool(v)) }
func (j *jsonWriter) flag(n string, v bool) {
	if v {
		j.raw(n, "1")
	} else {
		j.raw(n, "0")
	}
}

// float is jsonw_float_field: printf "%g".
func (j *jsonWriter) float(n string, v float64) { j.raw(n, strconv.FormatFloat(v, 'g', 6, 64)) }
func (j *jsonWriter) string(n, v string)        { j.name(n); j.str(v) }
func (j *jsonWriter) array(n string, vs []string) {
	if len(vs) == 0 {
		return // keepalived leaves empty lists out
	}
	j.name(n)
	j.b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			j.b.WriteByte(',')
		}
		j.str(v)
	}
	j.b.WriteByte(']')
}
func (j *jsonWriter) open(c byte)  { j.b.WriteByte(c); j.first = true }
func (j *jsonWriter) close(c byte) { j.b.WriteByte(c); j.first = false }

// WriteJSON writes keepalived's keepalived.json (vrrp_json.c): an array
// of {"data":{...},"stats":{...}}, fields in keepalived's order.
func WriteJSON(w io.Writer, insts []Instance) error {
	j := &jsonWriter{b: bufio.NewWriter(w)}
	j.open('[')
	for _, in := range insts {
		j.sep()
		j.open('{')
		j.name("data")
		j.open('{')
		j.string("iname", in.Name)
		j.flag("dont_track_primary", in.DontTrackPrimary)
		j.flag("skip_check_adv_addr", in.SkipCheckAdvAddr)
		j.flag("strict_mode", in.StrictMode)
		j.string("vmac_ifname", "")
		j.string("ifp_ifname", in.Interface)
		j.int("master_priority", in.MasterPriority)
		lt := 0.0
		if !in.LastTransition.IsZero() {
			lt = float64(in.LastTransition.UnixMicro()) / 1e6
		}
		j.raw("last_transition", strconv.FormatFloat(lt, 'f', 6, 64))
		j.float("garp_delay", in.GARPDelay.Seconds())
		j.uint("garp_refresh", uint64(in.GARPRefresh/time.Second))
		j.int("garp_rep", in.GARPRepeat)
		j.int("garp_refresh_rep", in.GARPRefreshRepeat)
		j.uint("garp_lower_prio_delay", uint64(in.GARPLowerPrioDelay/time.Second))
		j.int("garp_lower_prio_rep", in.GARPLowerPrioRepeat)
		j.flag("lower_prio_no_advert", in.LowerPrioNoAdvert)
		j.flag("higher_prio_send_advert", in.HigherPrioSendAdvert)
		j.int("vrid", in.VRID)
		j.int("base_priority", in.BasePriority)
		j.int("effective_priority", in.EffectivePriority)
		j.bool("vipset", in.VIPSet)
		j.bool("promote_secondaries", in.PromoteSecondaries)
		j.float("adver_int", in.AdvertInt.Seconds())
		j.float("master_adver_int", in.MasterAdvertInt.Seconds())
		j.flag("accept", in.Accept)
		j.bool("nopreempt", in.NoPreempt)
		j.uint("preempt_delay", uint64(in.PreemptDelay/time.Second))
		j.int("state", int(in.State))
		j.int("wantstate", int(in.WantState))
		j.int("version", in.Version)
		j.bool("smtp_alert", in.SMTPAlert)
		j.bool("notify_deleted", in.NotifyDeleted)
		for _, s := range []struct{ n, cmd string }{{"script_backup", in.NotifyBackup}, {"script_master", in.NotifyMaster},
			{"script_fault", in.NotifyFault}, {"script_stop", in.NotifyStop}, {"script_deleted", in.NotifyDeletedScript}, {"script", in.Notify}} {
			if s.cmd != "" {
				j.string(s.n, s.cmd)
			}
		}
		j.array("vips", in.VIPs)
		j.array("evips", in.ExcludedVIPs)
		j.array("track_ifp", in.TrackInterfaces)
		var cmds []string
		for _, s := range in.TrackScripts {
			cmds = append(cmds, "'"+strings.ReplaceAll(s.Command, "'", `'\''`)+"'")
		}
		j.array("track_script", cmds)
		j.int("auth_type", in.AuthType)
		if in.AuthType != 0 {
			j.string("auth_data", in.AuthData)
		}
		j.close('}')
		s := in.Stats
		j.name("stats")
		j.open('{')
		for _, f := range []struct {
			n string
			v uint64
		}{{"advert_rcvd", s.AdvertRcvd}, {"advert_sent", s.AdvertSent}, {"become_master", s.BecomeMaster},
			{"release_master", s.ReleaseMaster}, {"packet_len_err", s.PacketLenErr}, {"advert_interval_err", s.AdvertIntervalErr},
			{"ip_ttl_err", s.IPTTLErr}, {"invalid_type_rcvd", s.InvalidTypeRcvd}, {"addr_list_err", s.AddrListErr},
			{"invalid_authtype", s.InvalidAuthType}, {"authtype_mismatch", s.AuthTypeMismatch}, {"auth_failure", s.AuthFailure},
			{"pri_zero_rcvd", s.PriZeroRcvd}, {"pri_zero_sent", s.PriZeroSent}} {
			j.uint(f.n, f.v)
		}
		j.close('}')
		j.close('}')
	}
	j.close(']')
	return j.b.Flush()
}
