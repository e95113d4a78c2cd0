package config

import (
	"strings"
	"testing"
	"time"
)

func init() {
	for k, v := range map[string]string{
		"track_file file":            "internal/vrrp.TestRouterTrackFile",
		"track_file weight":          "internal/vrrp.TestRouterTrackFile",
		"track_file init_file":       "internal/vrrp.TestRouterTrackFileInit",
		"vrrp_track_file file":       "internal/config.TestTrackFileBlocks",
		"vrrp_track_file weight":     "internal/config.TestTrackFileBlocks",
		"vrrp_track_file init_file":  "internal/config.TestTrackFileBlocks",
		"vrrp_instance track_file":   "internal/vrrp.TestRouterTrackFile",
		"vrrp_sync_group track_file": "internal/vrrp.TestRouterTrackFileSyncGroup",
	} {
		keywordBehaviourTests[k] = v
	}
}

func loadTrack(t *testing.T, src string) *Result {
	t.Helper()
	res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": src}})
	if res.Diags.HasFatal() {
		t.Fatalf("fatal errors: %v", res.Diags.Sorted())
	}
	return res
}

// TestTrackFileBlocks: top-level track_file blocks and the track_file
// entries of instances and sync groups, with keepalived 2.2.7's rules
// (vrrp_alloc_track_file, track_file_*_handler, vrrp_complete_instance).
func TestTrackFileBlocks(t *testing.T) {
	src := `
track_file tf1 {
  file /run/lvsd-test/tf1
  weight -5 reverse
  init_file 7 overwrite
}
vrrp_track_file tf2 {
  file /run/lvsd-test/tf2
  weight 2
  weight 3
  init_file
}
track_file nofile {
  weight 4
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  track_file {
    tf1 frobnicate
    tf1
    tf2 weight 10 noreverse
    tf2 weight 3
    nofile
    undefined
  }
  virtual_ipaddress {
    10.0.0.1/24
  }
}
vrrp_instance VJ {
  interface eth0
  virtual_router_id 2
  track_file {
    tf1 weight 0
    tf2
  }
  virtual_ipaddress {
    10.0.0.2/24
  }
}
vrrp_instance VK {
  interface eth0
  virtual_router_id 3
  track_file {
    tf2 weight 999
    tf1 weight 1 reverse
  }
  virtual_ipaddress {
    10.0.0.3/24
  }
}
vrrp_sync_group G {
  group {
    VJ
  }
  track_file {
    tf1 weight 4
  }
}
track_file late {
  file /run/lvsd-test/late
}
`
	res := loadTrack(t, src)
	c := res.Config
	if len(c.TrackFiles) != 3 {
		t.Fatalf("track files %v, want tf1, tf2, late (nofile has no file)", c.TrackFiles)
	}
	tf1, tf2 := c.TrackFiles["tf1"], c.TrackFiles["tf2"]
	if tf1.Path != "/run/lvsd-test/tf1" || tf1.Weight != -5 || !tf1.WeightReverse || tf1.Init != TrackFileOverwrite || tf1.InitValue != 7 {
		t.Errorf("tf1 = %+v", tf1)
	}
	// keepalived: a second weight after one other than 1 is ignored.
	if tf2.Weight != 2 || tf2.WeightReverse || tf2.Init != TrackFileCreate || tf2.InitValue != 0 {
		t.Errorf("tf2 = %+v", tf2)
	}
	vi := c.Instances[0]
	want := []TrackItem{{Name: "tf1", Weight: -5, WeightReverse: true}, {Name: "tf2", Weight: 10, HasWeight: true}}
	if len(vi.TrackFiles) != len(want) {
		t.Fatalf("VI track files %+v, want %+v", vi.TrackFiles, want)
	}
	for i, w := range want {
		g := vi.TrackFiles[i]
		if g.Name != w.Name || g.Weight != w.Weight || g.WeightReverse != w.WeightReverse || g.HasWeight != w.HasWeight {
			t.Errorf("VI track_file[%d] = %+v, want %+v", i, g, w)
		}
	}
	// VJ is in a sync group without sync_group_tracking_weight: tf2 with
	// its weight 2 is dropped; tf1 weight 0 stays, reversed as the file.
	vj := c.Instances[1]
	if len(vj.TrackFiles) != 1 || vj.TrackFiles[0].Weight != 0 || !vj.TrackFiles[0].WeightReverse {
		t.Errorf("VJ track files %+v", vj.TrackFiles)
	}
	// VK: weight 999 out of range: the file's weight (2); tf1 weight 1 reverse.
	vk := c.Instances[2]
	if len(vk.TrackFiles) != 2 || vk.TrackFiles[0].Weight != 2 || vk.TrackFiles[0].HasWeight || vk.TrackFiles[1].Weight != 1 || !vk.TrackFiles[1].WeightReverse {
		t.Errorf("VK track files %+v", vk.TrackFiles)
	}
	if g := c.SyncGroups[0]; len(g.TrackFiles) != 1 || g.TrackFiles[0].Weight != 4 {
		t.Errorf("sync group track files %+v", g.TrackFiles)
	}
	var msgs []string
	for _, d := range res.Diags.Sorted() {
		msgs = append(msgs, d.String())
		if d.Severity == SeverityError && !d.Skipped {
			t.Errorf("fatal: %s", d)
		}
	}
	all := strings.Join(msgs, "\n")
	for _, w := range []string{"vrrp_track_file is deprecated", "weight already set", "nofile has no file",
		"track file nofile not found", "track file undefined not found", "duplicate track_file tf2",
		"unknown track file option \"frobnicate\"", "weight for track file tf2 must be -254..254",
		"track_file tf2 has weight 2 and is dropped because it is in vrrp_sync_group G"} {
		if !strings.Contains(all, w) {
			t.Errorf("no diagnostic %q in:\n%s", w, all)
		}
	}
}

// TestTrackFileOwnerDropsWeights: the address owner keeps only unweighted
// track files; a sync group with an owner member has its weights cleared.
func TestTrackFileOwnerDropsWeights(t *testing.T) {
	src := `
track_file a {
  file /tmp/a
}
track_file c {
  file /tmp/c
}
track_file b {
  file /tmp/b
  weight 5
}
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  priority 255
  track_file {
    a
    b
    c weight 0
  }
  virtual_ipaddress {
    10.0.0.1/24
  }
}
vrrp_sync_group G {
  group {
    V
  }
  track_file {
    b
  }
}
`
	c := loadTrack(t, src).Config
	if in := c.Instances[0]; len(in.TrackFiles) != 2 || in.TrackFiles[0].Name != "a" || in.TrackFiles[0].Weight != 0 || in.TrackFiles[1].Name != "c" {
		t.Errorf("owner track files %+v, want a (weight 1 made 0) and c", in.TrackFiles)
	}
	if g := c.SyncGroups[0]; len(g.TrackFiles) != 1 || g.TrackFiles[0].Weight != 0 {
		t.Errorf("group track files %+v, want b weight 0", g.TrackFiles)
	}
}

func init() {
	for k, v := range map[string]string{
		"vrrp_track_process process":         "internal/vrrp.TestRouterTrackProcess",
		"vrrp_track_process quorum":          "internal/vrrp.TestRouterTrackProcess",
		"vrrp_track_process quorum_max":      "internal/vrrp.TestRouterTrackProcess",
		"vrrp_track_process weight":          "internal/vrrp.TestRouterTrackProcess",
		"vrrp_track_process param_match":     "internal/config.TestTrackProcessBlocks",
		"vrrp_track_process delay":           "internal/config.TestTrackProcessBlocks",
		"vrrp_track_process terminate_delay": "internal/config.TestTrackProcessBlocks",
		"vrrp_track_process fork_delay":      "internal/config.TestTrackProcessBlocks",
		"vrrp_track_process full_command":    "internal/config.TestTrackProcessBlocks",
		"vrrp_instance track_process":        "internal/vrrp.TestRouterTrackProcess",
		"vrrp_sync_group track_process":      "internal/vrrp.TestRouterTrackProcess",
	} {
		keywordBehaviourTests[k] = v
	}
}

// TestTrackProcessBlocks: vrrp_track_process blocks and their entries as
// keepalived 2.2.7's vrrp_tprocess_*_handler and alloc_track_process read
// them (what the values do: internal/track.TestScannerMatchesAsKeepalived,
// TestProcessWatcherDelays).
func TestTrackProcessBlocks(t *testing.T) {
	src := `
vrrp_track_process a {
  process sleep 100 200
  param_match partial
  delay 1.5
  fork_delay 0.25
  weight 5 reverse
  weight 7
}
vrrp_track_process b {
  process /usr/sbin/nginx
  full_command
  param_match
  quorum 3
  quorum_max 2
  quorum_max 4
  terminate_delay 2
}
vrrp_track_process c {
  process x
  quorum_max 0
  param_match fuzzy
  delay 0
}
vrrp_track_process noname {
  weight 3
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  track_process {
    a weight 10 frob
    b weight
    c weight 300
    noname
    c
  }
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`
	res := loadTrack(t, src)
	c := res.Config
	a, b, cc := c.TrackProcesses["a"], c.TrackProcesses["b"], c.TrackProcesses["c"]
	if len(c.TrackProcesses) != 3 {
		t.Fatalf("processes %v, want a, b, c", c.TrackProcesses)
	}
	if a.Process != "sleep" || strings.Join(a.Params, " ") != "100 200" || a.ParamMatch != ParamMatchPartial || !a.FullCommand ||
		a.Weight != 5 || !a.WeightReverse || a.TerminateDelay != 1500*time.Millisecond || a.ForkDelay != 250*time.Millisecond || a.Quorum != 1 {
		t.Errorf("a = %+v", a)
	}
	if b.Process != "/usr/sbin/nginx" || !b.FullCommand || b.ParamMatch != ParamMatchExact || b.Quorum != 3 || b.QuorumMax != 4 || b.TerminateDelay != 2*time.Second || b.ForkDelay != 0 {
		t.Errorf("b = %+v", b)
	}
	if cc.Quorum != 0 || cc.QuorumMax != 0 || cc.ParamMatch != ParamMatchNone || cc.FullCommand {
		t.Errorf("c = %+v", cc)
	}
	vi := c.Instances[0]
	if len(vi.TrackProcesses) != 2 || vi.TrackProcesses[0].Name != "a" || vi.TrackProcesses[0].Weight != 10 || !vi.TrackProcesses[0].WeightReverse ||
		vi.TrackProcesses[1].Name != "c" || vi.TrackProcesses[1].Weight != 0 {
		t.Errorf("VI track_process %+v", vi.TrackProcesses)
	}
	var all []string
	for _, d := range res.Diags.Sorted() {
		all = append(all, d.String())
		if d.Severity == SeverityError && !d.Skipped {
			t.Errorf("fatal: %s", d)
		}
	}
	for _, w := range []string{"weight already set", "quorum_max is less than quorum", "invalid param_match type \"fuzzy\"",
		"delay \"0\" must be 0.000001..3600", "process name not specified", "unknown weight option \"frob\"",
		"weight without value for track process b", "weight for track process c must be -254..254", "track process noname not found",
		"duplicate track_process c"} {
		if !strings.Contains(strings.Join(all, "\n"), w) {
			t.Errorf("no diagnostic %q in:\n%s", w, strings.Join(all, "\n"))
		}
	}
}
