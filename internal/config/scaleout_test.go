package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func init() {
	for k, v := range map[string]string{
		"global_defs lvsd_announce_table":      "lvsd extension (docs/scale-out.md): the routing table of the routes announcing virtual addresses to a BGP speaker; keepalived 2.2.7 logs Unknown keyword and runs without announcements",
		"global_defs lvsd_announce_protocol":   "lvsd extension (docs/scale-out.md): the route protocol number of the announcement routes; keepalived 2.2.7 logs Unknown keyword",
		"global_defs lvsd_announce_drain_time": "lvsd extension (docs/scale-out.md): seconds between withdrawing the routes and removing the IPVS services at stop; keepalived 2.2.7 logs Unknown keyword",
		"virtual_server lvsd_announce":         "lvsd extension (docs/scale-out.md): announce this virtual address through the BGP speaker while quorum is up and the service is programmed; keepalived 2.2.7 logs Unknown keyword and runs without it",
	} {
		if v != "" {
			lvsdOnlyKeywords[k] = v
		}
	}
}

func loadScaleout(t *testing.T, text string) *Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path, Options{})
}

func diagText(r *Result) string {
	var b strings.Builder
	for _, d := range r.Diags.Sorted() {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

const announceVS = `
virtual_server 192.0.2.10 80 {
    lvs_sched %s
    lb_kind DR
    protocol TCP
    lvsd_announce
    real_server 10.0.0.1 80 { }
}
`

func TestAnnounceSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		global  string
		want    Announce
		skipped string // a skipped error naming this
	}{
		{"defaults", "", Announce{200, 200, 5 * time.Second}, ""},
		{"all given", "lvsd_announce_table 1000\nlvsd_announce_protocol 99\nlvsd_announce_drain_time 0", Announce{1000, 99, 0}, ""},
		{"main table refused", "lvsd_announce_table 254", Announce{200, 200, 5 * time.Second}, "lvsd_announce_table 254 is the kernel's"},
		{"table 0", "lvsd_announce_table 0", Announce{200, 200, 5 * time.Second}, "not a whole number in 1-4294967295"},
		{"kernel protocol refused", "lvsd_announce_protocol 2", Announce{200, 200, 5 * time.Second}, "is taken (kernel)"},
		{"BIRD's protocol refused", "lvsd_announce_protocol 12", Announce{200, 200, 5 * time.Second}, "is taken (BIRD's own)"},
		{"bad drain", "lvsd_announce_drain_time soon", Announce{200, 200, 5 * time.Second}, "lvsd_announce_drain_time \"soon\""},
		{"no value", "lvsd_announce_table", Announce{200, 200, 5 * time.Second}, "lvsd_announce_table needs a value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := loadScaleout(t, "global_defs {\n"+tc.global+"\n}\n"+strings.Replace(announceVS, "%s", "mh\n    mh-port", 1))
			if !r.Runnable() {
				t.Fatalf("not runnable (lvsd run must start wherever keepalived starts):\n%s", diagText(r))
			}
			if got := r.Config.Global.Announce.Effective(); got != tc.want {
				t.Errorf("Effective = %+v, want %+v", got, tc.want)
			}
			d := diagText(r)
			if tc.skipped == "" && d != "" {
				t.Errorf("unexpected diagnostics:\n%s", d)
			}
			if tc.skipped != "" && !strings.Contains(d, tc.skipped) {
				t.Errorf("diagnostics lack %q:\n%s", tc.skipped, d)
			}
			if !r.Config.VirtualServers[0].Announce || !r.Config.Announcing() {
				t.Error("lvsd_announce not set on the virtual server")
			}
		})
	}
}

// TestAnnounceAdvice: check-config warns about what breaks flows moving
// between directors, and only for announced services.
func TestAnnounceAdvice(t *testing.T) {
	for _, tc := range []struct {
		sched string
		want  string // "" means no diagnostic
	}{
		{"mh\n    mh-port", ""},
		{"mh\n    mh-port\n    mh-fallback", ""},
		{"mh", "mh without mh-port"},
		{"rr", "lvsd_announce with lvs_sched rr"},
		{"wrr", "lvsd_announce with lvs_sched wrr"},
		{"wlc", "lvsd_announce with lvs_sched wlc"},
		{"sh", "lvsd_announce with sh"},
		{"mh\n    mh-port\n    persistence_timeout 60", "persistence templates are per director"},
	} {
		t.Run(strings.Fields(tc.sched)[0], func(t *testing.T) {
			r := loadScaleout(t, strings.Replace(announceVS, "%s", tc.sched, 1))
			d := diagText(r)
			if tc.want == "" && d != "" || tc.want != "" && !strings.Contains(d, tc.want) {
				t.Errorf("diagnostics = %q, want %q", d, tc.want)
			}
			if !r.Runnable() {
				t.Error("advice made the configuration not runnable")
			}
			// Without lvsd_announce, nothing is said.
			r = loadScaleout(t, strings.Replace(strings.Replace(announceVS, "%s", tc.sched, 1), "lvsd_announce\n", "", 1))
			if d := diagText(r); d != "" {
				t.Errorf("without lvsd_announce: %s", d)
			}
			if r.Config.Announcing() || r.Config.Global.Announce != nil {
				t.Error("announcing without lvsd_announce")
			}
		})
	}
	r := loadScaleout(t, "virtual_server fwmark 5 {\n lvs_sched mh\n mh-port\n lb_kind DR\n lvsd_announce\n real_server 10.0.0.1 80 { }\n}\n")
	if d := diagText(r); !strings.Contains(d, "fwmark service has no address") {
		t.Errorf("fwmark: %s", d)
	}
}

// TestAnnounceKeepalivedRuns: keepalived 2.2.7 reads a configuration with
// the lvsd_announce keywords, logs them as unknown and runs on (its -t
// exit status is that of a configuration with warnings, not errors that
// stop it).
func TestAnnounceKeepalivedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs keepalived")
	}
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("keepalived not installed")
		}
		t.Skip("keepalived not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	text := "global_defs {\n lvsd_announce_table 210\n lvsd_announce_drain_time 2\n}\n" + strings.Replace(announceVS, "%s", "mh\n    mh-port", 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(ka, "-t", "-f", path, "-l", "-n", "-D").CombinedOutput()
	s := string(out)
	for _, kw := range []string{"lvsd_announce_table", "lvsd_announce_drain_time", "lvsd_announce"} {
		if !strings.Contains(s, "Unknown keyword '"+kw+"'") {
			t.Errorf("keepalived -t does not report %s as unknown:\n%s", kw, s)
		}
	}
}
