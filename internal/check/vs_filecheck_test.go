package check

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestFileVerdict: keepalived 2.2.7's process_update_checker_track_file_status
// arithmetic: weight 0 takes the real server down on a non-zero value
// (reverse: on zero); otherwise value x weight (x -1 with reverse) is added
// to its weight, and a product at or below INT32_MIN is FAULT.
func TestFileVerdict(t *testing.T) {
	for _, tc := range []struct {
		v       int64
		w       int
		rev     bool
		delta   int
		wantErr bool
	}{
		{0, 0, false, 0, false},
		{1, 0, false, 0, true},
		{-3, 0, false, 0, true},
		{0, 0, true, 0, true},
		{5, 0, true, 0, false},
		{3, 10, false, 30, false},
		{3, 10, true, -30, false},
		{-2, 5, false, -10, false},
		{1 << 31, 1, true, 0, true},               // -2^31: FAULT
		{math.MinInt32, 1, false, 0, true},        // INT32_MIN itself
		{1 << 31, 2, false, math.MaxInt32, false}, // clamped
		{math.MinInt32 + 1, 1, false, math.MinInt32 + 1, false},
	} {
		d, err := fileVerdict(tc.v, tc.w, tc.rev)
		if d != tc.delta || (err != nil) != tc.wantErr {
			t.Errorf("value %d weight %d reverse %v: %d %v, want %d err %v", tc.v, tc.w, tc.rev, d, err, tc.delta, tc.wantErr)
		}
	}
}

// TestFileCheckFollowsFile: a real server with a FILE_CHECK follows its
// file through the manager: known at once at start (before any check
// runs), its weight moved by value x weight, down on FAULT and with
// weight 0 on a non-zero value, back when the value returns; a value
// keepalived rejects keeps the last one; init_file is written.
func TestFileCheckFollowsFile(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "w")
	zf := filepath.Join(dir, "z")
	if err := os.WriteFile(wf, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := labtest.Config(t, fmt.Sprintf(`track_file weighted {
    file %s
    weight 10
}
track_file zero {
    file %s
    weight 0
    init_file 7 overwrite
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        weight 100
        FILE_CHECK {
            track_file weighted
        }
    }
    real_server 10.0.0.3 80 {
        FILE_CHECK {
            track_file weighted
            weight 3 reverse
        }
    }
    real_server 10.0.0.4 80 {
        FILE_CHECK {
            track_file zero
        }
    }
}
`, wf, zf))
	vs := cfg.VirtualServers[0]
	a, b, z := vs.RealServers[0], vs.RealServers[1], vs.RealServers[2]
	m := NewManager(nil, nil, 2, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(zf); string(got) != "7\n" {
		t.Errorf("init_file wrote %q", got)
	}
	state := func() string {
		s := m.Snapshot()
		wa, ok := s.RealServerWeight(vs, a)
		if !ok {
			wa = a.Weight
		}
		wb, okb := s.RealServerWeight(vs, b)
		return fmt.Sprintf("a=%v/%d b=%v/%d/%v z=%v", s.RealServerUp(vs, a), wa, s.RealServerUp(vs, b), wb, okb, s.RealServerUp(vs, z))
	}
	// Before Run: known from the files at once (b: 1 - 6 clamped to 0).
	if got, want := state(), "a=true/120 b=true/0/true z=false"; got != want {
		t.Fatalf("at start: %s, want %s", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	expect := func(what, want string) {
		t.Helper()
		if _, ok := labtest.Poll(5*time.Second, 20*time.Millisecond, func() bool { return state() == want }); !ok {
			t.Fatalf("%s: %s, want %s", what, state(), want)
		}
	}
	write := func(p, v string) {
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(wf, "-1")
	expect("value -1", "a=true/90 b=true/4/true z=false")
	write(zf, "0")
	expect("zero file 0", "a=true/90 b=true/4/true z=true")
	write(wf, "-300000000") // x10: -3e9 <= INT32_MIN: FAULT for a; b: +9e8
	expect("FAULT", "a=false/100 b=true/900000001/true z=true")
	write(wf, "99999999999") // out of range: the last value stays
	time.Sleep(500 * time.Millisecond)
	expect("invalid value", "a=false/100 b=true/900000001/true z=true")
	write(wf, "0")
	expect("back to 0", "a=true/100 b=true/0/false z=true")
	os.Remove(zf)
	expect("a missing file is 0", "a=true/100 b=true/0/false z=true")
}
