package track

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
)

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"5\n", 5, true}, {"  -7 apples", -7, true}, {"+3", 3, true},
		{"0x1f", 31, true}, {"0X1F", 31, true}, {"010", 8, true}, {"08", 0, true}, {"0x", 0, true}, {"0xg", 0, true},
		{"abc", 0, true}, {"\t\n 12", 12, true}, {"12\x0034", 12, true}, {"- 5", 0, true},
		{"2147483648", 2147483648, true}, {"2147483649", 0, false}, {"-2147483648", -2147483648, true},
		{"-2147483649", 0, false}, {"99999999999999999999999", 0, false}, {"9223372036854775807", 0, false},
	} {
		v, ok := ParseValue([]byte(c.in))
		if v != c.want || ok != c.ok {
			t.Errorf("ParseValue(%q) = %d, %v; want %d, %v", c.in, v, ok, c.want, c.ok)
		}
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"", "0x10", "-12", "  7\n", "0777", "99999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := ParseValue(b)
		if ok && (v < math.MinInt32 || v > math.MaxInt32+1) {
			t.Fatalf("ParseValue(%q) = %d, out of keepalived's range but ok", b, v)
		}
		if !ok && v != 0 {
			t.Fatalf("ParseValue(%q) = %d with !ok", b, v)
		}
	})
}

func TestFileStatus(t *testing.T) {
	for _, c := range []struct {
		v       int64
		w       int
		rev     bool
		delta   int
		isFault bool
	}{
		{0, 0, false, 0, false}, {1, 0, false, 0, true}, {-3, 0, false, 0, true},
		{0, 0, true, 0, true}, {7, 0, true, 0, false},
		{5, 2, false, 10, false}, {5, 2, true, -10, false}, {-127, 2, false, 0, true}, {-126, 2, false, -252, false},
		{1000, 1, false, 253, false}, {-253, 1, false, -253, false}, {-254, 1, false, 0, true},
		{2147483648, 254, false, 253, false}, {2147483648, -254, false, 0, true},
	} {
		d, f := FileStatus(c.v, c.w, c.rev)
		if d != c.delta || f != c.isFault {
			t.Errorf("FileStatus(%d, %d, %v) = %d, %v; want %d, %v", c.v, c.w, c.rev, d, f, c.delta, c.isFault)
		}
	}
}

func TestInitFileAndResolve(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	tf := &config.TrackFile{Name: "f", Path: p, Init: config.TrackFileOverwrite, InitValue: 5}
	if err := InitFile(tf); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("8\n"), 0o644)
	// A second configuration read (a reload) does not overwrite.
	if err := InitFile(tf); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadValue(p); v != 8 {
		t.Errorf("overwritten on reload: %d", v)
	}
	if err := InitFile(&config.TrackFile{Name: "d", Path: dir, Init: config.TrackFileOverwrite}); err == nil {
		t.Error("a directory was initialised")
	}
	if _, err := Resolve(filepath.Join(dir, "nodir", "x")); err != ErrNoDir {
		t.Errorf("Resolve in a missing directory: %v", err)
	}
	if r, err := Resolve(filepath.Join(dir, "new")); err != nil || filepath.Base(r) != "new" {
		t.Errorf("Resolve of a missing file: %q, %v", r, err)
	}
	if v, ok := ReadValue(filepath.Join(dir, "missing")); v != 0 || !ok {
		t.Errorf("missing file: %d, %v", v, ok)
	}
}
