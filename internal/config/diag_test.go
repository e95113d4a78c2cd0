package config

import "testing"

// A skipped error fails check-config but not lvsd run; any other error fails both.
func TestSkippedErrorsAreRunnable(t *testing.T) {
	for _, tc := range []struct {
		name         string
		add          func(*Diagnostics)
		ok, runnable bool
	}{
		{"clean", func(*Diagnostics) {}, true, true},
		{"warning", func(d *Diagnostics) { d.Warnf(Pos{}, "w") }, true, true},
		{"skipped", func(d *Diagnostics) { d.Skipf(Pos{}, "s") }, false, true},
		{"error", func(d *Diagnostics) { d.Errorf(Pos{}, "e") }, false, false},
		{"both", func(d *Diagnostics) { d.Skipf(Pos{}, "s"); d.Errorf(Pos{}, "e") }, false, false},
		{"error past the cap", func(d *Diagnostics) {
			for range maxDiagnostics + 5 {
				d.Skipf(Pos{}, "s")
			}
			d.Errorf(Pos{}, "e")
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Result{Diags: &Diagnostics{}}
			tc.add(r.Diags)
			if r.OK() != tc.ok || r.Runnable() != tc.runnable {
				t.Errorf("OK %v Runnable %v, want %v %v", r.OK(), r.Runnable(), tc.ok, tc.runnable)
			}
		})
	}
}
