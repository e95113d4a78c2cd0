// Package track holds keepalived's trackers that are not scripts or
// interfaces: track files (top-level track_file blocks) and tracked
// processes (vrrp_track_process). It reads and watches; what a value means
// for a VRRP instance (FileStatus) or a real server is up to the caller.
package track

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// ReadValue reads a track file as keepalived 2.2.7's process_track_file
// does: the first 127 bytes through strtol(buf, NULL, 0) (leading blanks,
// a sign, 0x hex, 0 octal, digits up to the first other byte; no digits
// is 0). A file that cannot be opened, or is empty, is 0. ok is false
// when the number is outside keepalived's range (below INT32_MIN or above
// INT32_MAX+1, or overflowing): keepalived logs "Invalid number" and keeps
// the last value.
func ReadValue(path string) (v int64, ok bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|0x800 /* O_NONBLOCK */, 0)
	if err != nil {
		return 0, true
	}
	defer f.Close()
	buf := make([]byte, 127)
	n, _ := f.Read(buf)
	if n <= 0 {
		return 0, true
	}
	return ParseValue(buf[:n])
}

// ParseValue is strtol(buf, NULL, 0) on a C string (it ends at the first
// NUL) with keepalived's range check.
func ParseValue(buf []byte) (int64, bool) {
	for i, c := range buf {
		if c == 0 {
			buf = buf[:i]
			break
		}
	}
	i := 0
	for i < len(buf) && (buf[i] == ' ' || buf[i] >= '\t' && buf[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(buf) && (buf[i] == '+' || buf[i] == '-') {
		neg = buf[i] == '-'
		i++
	}
	base := uint64(10)
	if i < len(buf) && buf[i] == '0' {
		base = 8
		if i+2 < len(buf)+0 && (buf[i+1] == 'x' || buf[i+1] == 'X') && digit(buf[i+2]) < 16 {
			base, i = 16, i+2
		}
	}
	var u uint64
	overflow := false
	for ; i < len(buf); i++ {
		d := digit(buf[i])
		if d >= base {
			break
		}
		if u > (math.MaxUint64-d)/base {
			overflow = true
			continue
		}
		u = u*base + d
	}
	// strtol's long is 64 bits here: beyond it, ERANGE (keepalived ignores).
	if overflow || !neg && u > math.MaxInt64 || neg && u > 1<<63 {
		return 0, false
	}
	v := int64(u)
	if neg {
		v = -v
	}
	if v < math.MinInt32 || v > math.MaxInt32+1 {
		return 0, false
	}
	return v, true
}

func digit(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 99
}

// FileStatus is what a track file's value means to a VRRP instance
// tracking it with weight and reverse (keepalived 2.2.7
// update_track_file_status and initialise_vrrp_file_tracking_priorities):
// with weight 0, a non-zero value (reverse: a zero value) is FAULT;
// otherwise value × weight (negated by reverse) is added to the priority,
// at most 253, and -254 or below is FAULT.
func FileStatus(value int64, weight int, reverse bool) (delta int, fault bool) {
	if weight == 0 {
		return 0, (value != 0) != reverse
	}
	s := value * int64(weight)
	if reverse {
		s = -s
	}
	if s <= -254 {
		return 0, true
	}
	return int(min(s, 253)), false
}

var (
	initMu   sync.Mutex
	initDone = map[string]bool{}
)

// InitFile carries out init_file as keepalived 2.2.7's track_file_end_handler
// does when it reads the configuration: without overwrite the file is
// written with the value only if it does not exist; with overwrite it is
// written unless it is not a regular file, or this process has written it
// before (keepalived does not overwrite on a reload). Safe to call from
// VRRP and the checkers alike.
func InitFile(tf *config.TrackFile) error {
	if tf == nil || tf.Init == config.TrackFileNoInit {
		return nil
	}
	initMu.Lock()
	defer initMu.Unlock()
	st, err := os.Stat(tf.Path)
	if err == nil {
		if tf.Init == config.TrackFileCreate {
			return nil
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("cannot initialise track file %s: %s is not a regular file", tf.Name, tf.Path)
		}
		if initDone[tf.Path] {
			return nil
		}
	}
	if err := os.WriteFile(tf.Path, fmt.Appendf(nil, "%d\n", tf.InitValue), 0o644); err != nil {
		return fmt.Errorf("unable to initialise track file %s: %w", tf.Name, err)
	}
	initDone[tf.Path] = true
	return nil
}

// InitFiles runs InitFile for every track_file block of cfg (keepalived
// initialises them all, tracked or not), returning the errors to log.
func InitFiles(cfg *config.Config) []error {
	var errs []error
	for _, tf := range cfg.TrackFiles {
		if err := InitFile(tf); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ErrNoDir is returned by Resolve when the file's directory does not exist:
// keepalived then removes the track file ("Track file directory for X does
// not exist - removing"), and what tracked it no longer does.
var ErrNoDir = errors.New("track file directory does not exist")

// Resolve is keepalived's init_track_files path check: the file's real
// path, or, when the file does not exist, its directory's real path joined
// with the name.
func Resolve(path string) (string, error) {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		if a, err := filepath.Abs(p); err == nil {
			return a, nil
		}
		return p, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("track file %s is not accessible: %w", path, err)
	}
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", ErrNoDir
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", ErrNoDir
	}
	d, _ = filepath.Abs(d)
	return filepath.Join(d, name), nil
}

// PollInterval is how often WatchFiles reads the files. keepalived uses
// inotify (close-after-write, delete, move); lvsd polls: a change is seen
// within this interval rather than at once.
const PollInterval = 200 * time.Millisecond

// WatchFiles reads each path every interval until ctx ends and calls fn
// (from its own goroutine) with a path and its value when the value
// changed since the last call; initial holds the values the caller
// already knows. A value keepalived would call invalid keeps the last one.
func WatchFiles(ctx context.Context, initial map[string]int64, interval time.Duration, fn func(path string, v int64)) {
	if interval <= 0 {
		interval = PollInterval
	}
	last := map[string]int64{}
	for p, v := range initial {
		last[p] = v
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for p, old := range last {
			v, ok := ReadValue(p)
			if !ok || v == old {
				continue
			}
			last[p] = v
			fn(p, v)
		}
	}
}
