package config

import (
	"strings"
	"testing"
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
