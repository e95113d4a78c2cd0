package config

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// TestLVSSyncDaemon covers the spellings keepalived 2.2.7's
// lvs_syncd_handler accepts and what it does with each (the comments
// quote what keepalived reports).
func TestLVSSyncDaemon(t *testing.T) {
	const instances = `
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 virtual_ipaddress { 10.0.0.1 }
}
vrrp_instance VI_2 {
 interface eth0
 virtual_router_id 52
 virtual_ipaddress { 10.0.0.2 }
}
`
	type want struct {
		sd    *SyncDaemon // nil: no sync daemon
		diags []string    // substrings, one per diagnostic, in order
	}
	sd := func(ifn, inst string, id int) *SyncDaemon {
		return &SyncDaemon{Interface: ifn, Instance: inst, SyncID: id}
	}
	cases := []struct {
		name, global string
		want         want
	}{
		{"interface only: both daemons, id 0", "lvs_sync_daemon eth1", want{sd("eth1", "", 0), nil}},
		{"instance by keyword, id from its router id", "lvs_sync_daemon eth1 inst VI_2", want{sd("eth1", "VI_2", 52), nil}},
		{"instance as the second word (1.x)", "lvs_sync_daemon eth1 VI_1", want{sd("eth1", "VI_1", 51), nil}},
		{"id keyword", "lvs_sync_daemon eth1 VI_1 id 7", want{sd("eth1", "VI_1", 7), nil}},
		{"id 0 is kept, not replaced by the router id", "lvs_sync_daemon eth1 inst VI_1 id 0", want{sd("eth1", "VI_1", 0), nil}},
		{"bare sync id as the third word (1.x)", "lvs_sync_daemon eth1 VI_1 7",
			// "Please use keyword "id" before lvs_sync_daemon SYNCID"
			want{sd("eth1", "VI_1", 7), []string{`warning: lvs_sync_daemon: put the keyword "id" before the sync id`}}},
		{"bare sync id out of range", "lvs_sync_daemon eth1 VI_1 300",
			// "Invalid syncid (300) - defaulting to vrid"
			want{sd("eth1", "VI_1", 51), []string{"error: lvs_sync_daemon sync id 300 is out of range 0..255"}}},
		{"id without an instance", "lvs_sync_daemon eth1 id 200", want{sd("eth1", "", 200), nil}},
		{"every option", "lvs_sync_daemon eth1 inst VI_1 id 3 maxlen 65507 port 1 ttl 255 group ff02::1:81",
			want{&SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 3, MaxLen: 65507, Port: 1, TTL: 255, Group: netip.MustParseAddr("ff02::1:81")}, nil}},
		{"options in any order", "lvs_sync_daemon eth1 group 239.1.2.3 ttl 4 inst VI_1 port 9000",
			want{&SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 51, Port: 9000, TTL: 4, Group: netip.MustParseAddr("239.1.2.3")}, nil}},
		{"inst given twice", "lvs_sync_daemon eth1 VI_1 inst VI_2",
			// "lvs_sync_daemon vrrp instance has already been specified as VI_1 - ignoring"
			want{sd("eth1", "VI_1", 51), []string{"warning: lvs_sync_daemon: the vrrp instance has already been given as VI_1; ignoring VI_2"}}},
		{"instance after an option is unknown", "lvs_sync_daemon eth1 id 5 VI_1",
			// "Unknown option VI_1 specified for lvs_sync_daemon"
			want{sd("eth1", "", 5), []string{`error: lvs_sync_daemon: unknown option "VI_1"`}}},
		{"a value missing", "lvs_sync_daemon eth1 VI_1 ttl",
			want{sd("eth1", "VI_1", 51), []string{"error: lvs_sync_daemon: ttl needs a value"}}},
		{"inst missing its value", "lvs_sync_daemon eth1 inst",
			want{sd("eth1", "", 0), []string{"error: lvs_sync_daemon: inst needs a value"}}},
		{"values out of range", "lvs_sync_daemon eth1 maxlen 65508 port 0 ttl 256 id 256",
			want{sd("eth1", "", 0), []string{"maxlen 65508 is out of range 1..65507", "port 0 is out of range 1..65535", "ttl 256 is out of range 1..255", "id 256 is out of range 0..255"}}},
		{"group not multicast", "lvs_sync_daemon eth1 group 10.0.0.9",
			// "lvs_sync_daemon group address 10.0.0.9 is not multicast - ignoring"
			want{sd("eth1", "", 0), []string{"error: lvs_sync_daemon group 10.0.0.9 is not a multicast address"}}},
		{"group not an address", "lvs_sync_daemon eth1 group nowhere",
			want{sd("eth1", "", 0), []string{`error: lvs_sync_daemon group: "nowhere" is not an IP address`}}},
		{"no interface", "lvs_sync_daemon",
			// "lvs_sync_daemon requires interface"
			want{nil, []string{"error: lvs_sync_daemon needs an interface"}}},
		{"interface name too long", "lvs_sync_daemon eth0123456789abc VI_1",
			// "lvs_sync_daemon interface name 'eth0123456789abc' too long - ignoring"
			want{nil, []string{`error: lvs_sync_daemon: interface name "eth0123456789abc" is longer than 15 characters`}}},
		{"15 characters is the longest name", "lvs_sync_daemon eth0123456789ab", want{sd("eth0123456789ab", "", 0), nil}},
		{"second lvs_sync_daemon ignored", "lvs_sync_daemon eth1 VI_1\n lvs_sync_daemon eth2 VI_2",
			// "lvs_sync_daemon has already been specified as eth1 VI_1 - ignoring"
			want{sd("eth1", "VI_1", 51), []string{"warning: lvs_sync_daemon has already been specified at"}}},
		{"instance that does not exist", "lvs_sync_daemon eth1 inst VI_9",
			// "Unable to find vrrp instance VI_9 for lvs_syncd - clearing lvs_syncd config"
			want{nil, []string{"warning: lvs_sync_daemon: vrrp_instance VI_9 is not defined; no sync daemon will run"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "global_defs {\n " + tc.global + "\n}\n" + instances
			res := Load("k.conf", Options{FS: MapFS{"k.conf": src}})
			checkSyncDaemon(t, res, tc.want.sd, tc.want.diags)
		})
	}
}

func checkSyncDaemon(t *testing.T, res *Result, want *SyncDaemon, diags []string) {
	t.Helper()
	got := res.Config.Global.LVSSyncDaemon
	switch {
	case want == nil && got != nil:
		t.Errorf("sync daemon %+v, want none", *got)
	case want != nil && got == nil:
		t.Errorf("no sync daemon, want %+v", *want)
	case want != nil:
		g := *got
		g.Pos, g.InstancePos, g.syncIDGiven = Pos{}, Pos{}, false
		if g != *want {
			t.Errorf("sync daemon %+v, want %+v", g, *want)
		}
	}
	var msgs []string
	for _, d := range res.Diags.Sorted() {
		msgs = append(msgs, d.String())
	}
	if len(msgs) != len(diags) {
		t.Fatalf("diagnostics:\n%s\nwant %d: %q", strings.Join(msgs, "\n"), len(diags), diags)
	}
	for i, m := range diags {
		if !strings.Contains(msgs[i], m) {
			t.Errorf("diagnostic %d is %q, want it to contain %q", i, msgs[i], m)
		}
	}
}

// TestLVSSyncDaemonInterface is the keepalived 1.x spelling, inside the
// instance; keepalived 2.2.7 still takes it, with sync id 0.
func TestLVSSyncDaemonInterface(t *testing.T) {
	inst := func(name string, vrid int, extra string) string {
		return fmt.Sprintf("vrrp_instance %s {\n interface eth0\n virtual_router_id %d\n%s virtual_ipaddress { 10.0.0.%d }\n}\n", name, vrid, extra, vrid)
	}
	cases := []struct {
		name, src string
		want      *SyncDaemon
		diags     []string
	}{
		{"in an instance", inst("VI_1", 51, " lvs_sync_daemon_interface eth1\n"),
			&SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 0},
			// "(VI_1) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."
			[]string{"warning: vrrp_instance VI_1: lvs_sync_daemon_interface is deprecated; use lvs_sync_daemon eth1 inst VI_1 id 0 in global_defs"}},
		{"in two instances: the first wins", inst("VI_1", 51, " lvs_sync_daemon_interface eth1\n") + inst("VI_2", 52, " lvs_sync_daemon_interface eth2\n"),
			&SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 0},
			[]string{"deprecated", "deprecated", "warning: vrrp_instance VI_2: lvs_sync_daemon has already been specified at"}},
		{"after the global keyword: ignored", "global_defs {\n lvs_sync_daemon eth3 VI_2\n}\n" + inst("VI_1", 51, " lvs_sync_daemon_interface eth1\n") + inst("VI_2", 52, ""),
			&SyncDaemon{Interface: "eth3", Instance: "VI_2", SyncID: 52},
			[]string{"deprecated", "ignoring lvs_sync_daemon_interface"}},
		{"before the global keyword: the global one is ignored", inst("VI_1", 51, " lvs_sync_daemon_interface eth1\n") + "global_defs {\n lvs_sync_daemon eth3 VI_1\n}\n",
			&SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 0},
			[]string{"deprecated", "warning: lvs_sync_daemon has already been specified at"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkSyncDaemon(t, Load("k.conf", Options{FS: MapFS{"k.conf": tc.src}}), tc.want, tc.diags)
		})
	}
}

// hostWith is a host with only the named interfaces (and no scripts).
type hostWith map[string]bool

func (h hostWith) InterfaceAddrs(name string) ([]netip.Prefix, bool) { return nil, h[name] }
func (hostWith) Stat(path string) (os.FileInfo, error)               { return nil, os.ErrNotExist }
func (hostWith) LookPath(file string) (string, error)                { return "", os.ErrNotExist }

// check-config --host names an lvs_sync_daemon interface the host lacks.
func TestLVSSyncDaemonHostInterface(t *testing.T) {
	src := "global_defs {\n  lvs_sync_daemon eth9 id 3\n}\n"
	for _, c := range []struct {
		host hostWith
		want bool
	}{{hostWith{"eth9": true}, false}, {hostWith{}, true}} {
		res := Load("/c.conf", Options{ConfigID: "x", FS: MapFS{"/c.conf": src}, Host: c.host})
		var got bool
		for _, d := range res.Diags.Sorted() {
			if d.Severity == SeverityError && strings.Contains(d.Message, "lvs_sync_daemon: interface eth9 does not exist") && d.Pos.Line == 2 {
				got = true
			}
		}
		if got != c.want {
			t.Errorf("host %v: error %v, want %v: %v", c.host, got, c.want, res.Diags.Sorted())
		}
	}
}
