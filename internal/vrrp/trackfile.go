package vrrp

import (
	"context"
	"errors"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/track"
)

// fileState is a track file as the router follows it (keepalived 2.2.7's
// tracked_file_t): its last value, or removed when it cannot be watched.
type fileState struct {
	cfg   *config.TrackFile
	path  string // resolved as keepalived resolves it
	value int64
	// removed: keepalived removes a track file whose directory does not
	// exist (or that it cannot access) from everything tracking it.
	removed bool
}

// fileItems is what in tracks of the track files: its own entries, then
// its sync group's, as keepalived's add_obj_to_track_file merges them (a
// file on both takes the group's weight unless the instance's was 0).
func (r *Router) fileItems(in *instance) []config.TrackItem {
	return mergeTracked(in.cfg.TrackFiles, in.syncCfg, func(g *config.SyncGroup) []config.TrackItem { return g.TrackFiles }, true)
}

// setupFiles collects the track files the instances use.
func (r *Router) setupFiles() {
	r.files = map[string]*fileState{}
	for _, in := range r.insts {
		for _, t := range r.fileItems(in) {
			if tf := r.cfg.TrackFiles[t.Name]; tf != nil && r.files[t.Name] == nil {
				r.files[t.Name] = &fileState{cfg: tf}
			}
		}
	}
}

// startFiles initialises (init_file), resolves and reads the track files,
// then watches them: a change is posted to the router as a re-track.
// keepalived watches with inotify; lvsd reads them every
// track.PollInterval (Router.filePoll in tests).
func (r *Router) startFiles(ctx context.Context) {
	// keepalived writes every track_file's init_file when it reads the
	// configuration, tracked or not (track.InitFile never overwrites twice).
	for _, err := range track.InitFiles(r.cfg) {
		r.log.Error("track_file", "err", err)
	}
	if len(r.files) == 0 {
		return
	}
	initial := map[string]int64{}
	byPath := map[string][]*fileState{}
	for name, fs := range r.files {
		p, err := track.Resolve(fs.cfg.Path)
		if err != nil {
			fs.removed = true
			if errors.Is(err, track.ErrNoDir) {
				r.log.Error("track file directory does not exist; the track file is removed, as keepalived removes it", "track_file", name, "file", fs.cfg.Path)
			} else {
				r.log.Error("track file is not accessible; it is ignored, as keepalived ignores it", "track_file", name, "err", err)
			}
			continue
		}
		fs.path = p
		if v, ok := track.ReadValue(p); ok {
			fs.value = v
		} else {
			r.log.Info("invalid number in track file; ignored", "track_file", name, "file", p)
		}
		initial[p] = fs.value
		byPath[p] = append(byPath[p], fs)
	}
	if len(initial) == 0 {
		return
	}
	r.scriptLoops.Add(1)
	go func() {
		defer r.scriptLoops.Done()
		track.WatchFiles(ctx, initial, r.filePoll, func(p string, v int64) {
			r.post(ctx, func() {
				for _, fs := range byPath[p] {
					r.fileChanged(fs, v)
				}
			})
		})
	}()
}

func (r *Router) fileChanged(fs *fileState, v int64) {
	if fs.value == v {
		return
	}
	r.log.Info("track_file", "track_file", fs.cfg.Name, "file", fs.path, "value", v, "was", fs.value)
	fs.value = v
	r.retrack(r.now())
}

// fileEffects adds in's track files to prio and fault (keepalived's
// process_update_vrrp_track_file_status, see track.FileStatus).
func (r *Router) fileEffects(in *instance, prio *int, fault *bool) {
	for _, t := range r.fileItems(in) {
		fs := r.files[t.Name]
		if fs == nil || fs.removed {
			continue
		}
		d, f := track.FileStatus(fs.value, t.Weight, t.WeightReverse)
		if f {
			*fault = true
		} else if in.cfg.Priority != OwnerPriority {
			*prio += d
		}
	}
}

// mergeTracked is what an instance tracks of one kind of object, as
// keepalived merges its own entries with its sync group's
// (add_obj_to_track_file, add_vrrp_to_track_bfd, the track_process one):
// the instance's entries, then the group's; an object on both takes the
// group's weight unless the instance's was 0, and the group's reverse flag
// too when withReverse (not for processes).
func mergeTracked(own []config.TrackItem, sg *config.SyncGroup, group func(*config.SyncGroup) []config.TrackItem, withReverse bool) []config.TrackItem {
	items := append([]config.TrackItem(nil), own...)
	if sg == nil {
		return items
	}
next:
	for _, g := range group(sg) {
		for i, t := range items {
			if t.Name == g.Name {
				if t.Weight != 0 {
					items[i].Weight = g.Weight
					if withReverse {
						items[i].WeightReverse = g.WeightReverse
					}
				}
				continue next
			}
		}
		items = append(items, g)
	}
	return items
}
