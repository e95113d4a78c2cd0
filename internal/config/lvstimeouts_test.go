package config

import (
	"strings"
	"testing"
)

// TestLVSTimeouts: lvs_timeouts as keepalived 2.2.7's global_parser.c reads
// it; what it reports it skips, keeping the rest (so lvsd runs where
// keepalived runs, and check-config fails where `keepalived -t` does).
func TestLVSTimeouts(t *testing.T) {
	cases := []struct {
		name, line string
		want       LVSTimeouts
		diags      []string
	}{
		{"all three", "lvs_timeouts tcp 7200 tcpfin 60 udp 300", LVSTimeouts{7200, 60, 300}, nil},
		{"any order, one", "lvs_timeouts udp 10", LVSTimeouts{UDP: 10}, nil},
		{"the longest, 31 days", "lvs_timeouts tcp 2678400", LVSTimeouts{TCP: 2678400}, nil},
		{"zero is not given", "lvs_timeouts tcp 0 udp 5", LVSTimeouts{UDP: 5}, nil},
		{"two lines add up", "lvs_timeouts tcp 7200\n lvs_timeouts udp 9", LVSTimeouts{TCP: 7200, UDP: 9}, nil},
		{"no option", "lvs_timeouts", LVSTimeouts{}, []string{"error: lvs_timeouts requires at least one option"}},
		{"one word", "lvs_timeouts tcp", LVSTimeouts{}, []string{"lvs_timeouts requires at least one option"}},
		{"a value too large", "lvs_timeouts tcp 2678401 udp 5", LVSTimeouts{UDP: 5},
			[]string{"Invalid lvs_timeout tcp (2678401) - ignoring"}},
		{"a value not a number", "lvs_timeouts tcpfin 1m udp 5", LVSTimeouts{UDP: 5},
			[]string{"Invalid lvs_timeout tcpfin (1m) - ignoring"}},
		{"a value missing at the end", "lvs_timeouts tcp 7 udp", LVSTimeouts{TCP: 7},
			[]string{"No value specified for lvs_timeout udp - ignoring"}},
		{"an unknown option", "lvs_timeouts sctp 5 tcp 7", LVSTimeouts{TCP: 7},
			// keepalived reads "5" as an option too, and reports it.
			[]string{"Unknown option sctp specified for lvs_timeouts", "Unknown option 5 specified for lvs_timeouts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{FS: MapFS{"k.conf": "global_defs {\n " + tc.line + "\n}\n"}})
			if got := res.Config.Global.LVSTimeouts; got != tc.want {
				t.Errorf("lvs_timeouts %+v, want %+v", got, tc.want)
			}
			var msgs []string
			for _, d := range res.Diags.Sorted() {
				msgs = append(msgs, d.String())
			}
			if len(msgs) != len(tc.diags) {
				t.Fatalf("diagnostics:\n%s\nwant %q", strings.Join(msgs, "\n"), tc.diags)
			}
			for i, m := range tc.diags {
				if !strings.Contains(msgs[i], m) {
					t.Errorf("diagnostic %d is %q, want it to contain %q", i, msgs[i], m)
				}
			}
		})
	}
}
