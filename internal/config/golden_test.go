package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden parses each testdata/golden/*.conf and compares its diagnostics
// and resolved model with the .golden file beside it.
func TestGolden(t *testing.T) {
	confs, _ := filepath.Glob("testdata/golden/*.conf")
	if len(confs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, conf := range confs {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			res := Load(conf, Options{ConfigID: "lvs1"})
			var b bytes.Buffer
			for _, d := range res.Diags.Sorted() {
				fmt.Fprintln(&b, d)
			}
			b.WriteString("---\n")
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res.Config); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(conf, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("output differs from %s (go test -run TestGolden -update to accept):\n%s", golden, b.String())
			}
		})
	}
}

// TestUnknownBlockIsSkippedWhole guards the keepalived bug lvsd fixes: an
// unknown block's braces must not end the enclosing instance early.
func TestUnknownBlockIsSkippedWhole(t *testing.T) {
	res := Load("testdata/golden/unknown_block.conf", Options{ConfigID: "x"})
	if len(res.Config.Instances) != 1 {
		t.Fatalf("instances = %d", len(res.Config.Instances))
	}
	in := res.Config.Instances[0]
	if in.Priority != 150 || len(in.VIPs) != 1 {
		t.Errorf("keywords after the unknown block were lost: priority %d, %d VIPs", in.Priority, len(in.VIPs))
	}
	diags := res.Diags.Sorted()
	if len(diags) != 1 || !strings.Contains(diags[0].Message, `unknown keyword "unknown_thing"`) || diags[0].Pos.Line != 4 || diags[0].Pos.Col != 5 {
		t.Errorf("want one error at line 4 col 5 for unknown_thing, got %v", diags)
	}
}

func TestDefaults(t *testing.T) {
	res := Load("m.conf", Options{FS: MapFS{"m.conf": `
vrrp_instance V { interface eth0
 virtual_router_id 9
 virtual_ipaddress { 10.0.0.1 } }
virtual_server 10.0.0.1 80 {
 real_server 10.0.0.2 80 { TCP_CHECK { } }
 real_server 10.0.0.3 80 { HTTP_GET { url { path / } } }
 real_server 10.0.0.4 80 { MISC_CHECK { misc_path /bin/true } }
}`}})
	if !res.OK() {
		t.Fatalf("diags: %v", res.Diags.Sorted())
	}
	in := res.Config.Instances[0]
	if in.Priority != 100 || in.AdvertInterval.Seconds() != 1 || in.Version != 2 || in.InitialState != StateBackup ||
		in.GARPMasterDelay.Seconds() != 5 || in.GARPMasterRepeat != 5 || in.GARPLowerPrioRepeat != 5 || !in.Accept {
		t.Errorf("instance defaults: %+v", in)
	}
	vs := res.Config.VirtualServers[0]
	if vs.Scheduler != "wlc" || vs.Method != MethodNAT || vs.Protocol != ProtoUDP || vs.DelayLoop.Seconds() != 60 || vs.Quorum != 1 {
		t.Errorf("virtual server defaults: %+v", vs)
	}
	tcp, http, misc := vs.RealServers[0].Checkers[0], vs.RealServers[1].Checkers[0], vs.RealServers[2].Checkers[0]
	if tcp.Retry != 1 || tcp.ConnectTimeout.Seconds() != 5 || tcp.DelayBeforeRetry.Seconds() != 1 || tcp.ConnectPort != 80 || tcp.Warmup.Seconds() != 60 {
		t.Errorf("TCP_CHECK defaults: %+v", tcp)
	}
	if http.DelayBeforeRetry.Seconds() != 3 || http.Extra().URLs[0].StatusCodes[0] != [2]int{200, 299} {
		t.Errorf("HTTP_GET defaults: %+v", http)
	}
	if misc.Retry != 0 || misc.MiscTimeout.Seconds() != 60 {
		t.Errorf("MISC_CHECK defaults: %+v", misc)
	}
	if vs.RealServers[0].Weight != 1 {
		t.Errorf("weight default %d", vs.RealServers[0].Weight)
	}
}
