package ipvs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

func serviceConfig(method, sched string, weights [4]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s %s {\n lvs_sched %s\n lvs_method %s\n protocol TCP\n", labtest.LabVIP, labtest.LabVIPPort, sched, method)
	for i, w := range weights {
		fmt.Fprintf(&b, " real_server 10.20.0.%d %s {\n  weight %d\n }\n", i+1, labtest.LabVIPPort, w)
	}
	b.WriteString("}\n")
	return b.String()
}

// TestVMDataPathSpread sends 3,600 connections through NAT and DR with wrr
// 16:12:8:0 and rr, and checks each real server's share.
func TestVMDataPathSpread(t *testing.T) {
	for _, method := range []string{"NAT", "DR"} {
		for _, sched := range []string{"wrr", "rr"} {
			t.Run(method+"-"+sched, func(t *testing.T) {
				k := realKernel(t)
				labtest.DataPathLab(t, method == "DR")
				weights := [4]int{16, 12, 8, 0}
				if sched == "rr" {
					weights = [4]int{1, 1, 1, 1}
				}
				if _, err := NewSyncer(k, nil, "", false).Reconcile(DesiredTable(labtest.Config(t, serviceConfig(method, sched, weights)), nil)); err != nil {
					t.Fatal(err)
				}
				// 3,600 is a multiple of 16+12+8: wrr gives exact shares. (10,000
				// took two minutes a scenario under TCG on a loaded machine, and
				// fast reuse of the client's ports then failed a few.)
				const n = 3600
				counts := map[string]int{}
				start := time.Now()
				labtest.RunHelperJSON(t, "cli", "connect", &counts, labtest.LabVIP+":"+labtest.LabVIPPort, fmt.Sprint(n))
				t.Logf("%s %s: %d connections in %s: %v", method, sched, n, time.Since(start).Round(time.Millisecond), counts)
				// One client opening 3,600 connections in a row reuses its
				// source ports while the director still holds entries for
				// them: a rare connect fails for that (seen 1 in 3,600 under
				// load), not for the scheduler this test measures. More
				// than one in a thousand is a failure.
				if e := counts["error"]; e > n/1000 {
					t.Errorf("%d connections failed", e)
				} else if e > 0 {
					t.Logf("%d of %d connections failed (client port reuse; at most %d allowed)", e, n, n/1000)
				}
				total := 0
				for _, w := range weights {
					total += w
				}
				for i, w := range weights {
					got := float64(counts[fmt.Sprint(i+1)]) / n * 100
					want := float64(w) / float64(total) * 100
					if math.Abs(got-want) > 2 {
						t.Errorf("real server %d: %.2f%% of connections, want %.2f%% ±2", i+1, got, want)
					}
					if w == 0 && counts[fmt.Sprint(i+1)] != 0 {
						t.Errorf("weight-0 real server got %d connections", counts[fmt.Sprint(i+1)])
					}
				}
			})
		}
	}
}

// TestVMConnectionsSurviveReloadAndRestart holds 500 established
// connections through the director while the process running the syncer
// does a no-op reload, a reload that adds a service, and is killed with -9
// and restarted. No connection may see a reset or a stall.
func TestVMConnectionsSurviveReloadAndRestart(t *testing.T) {
	for _, method := range []string{"NAT", "DR"} {
		t.Run(method, func(t *testing.T) {
			realKernel(t)
			labtest.DataPathLab(t, method == "DR")
			dir := t.TempDir()
			conf := filepath.Join(dir, "lvsd.conf")
			state := filepath.Join(dir, "owned.json")
			base := serviceConfig(method, "wrr", [4]int{16, 12, 8, 0})
			if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
				t.Fatal(err)
			}
			// Writes reported by the syncer process, one JSON line per (re)load.
			writes := func(r *bufio.Reader) int {
				t.Helper()
				line, err := r.ReadString('\n')
				var doc struct {
					Writes int    `json:"writes"`
					Error  string `json:"error"`
				}
				if err != nil || json.Unmarshal([]byte(line), &doc) != nil || doc.Error != "" {
					t.Fatalf("syncer process: %q %v", line, err)
				}
				return doc.Writes
			}
			syncer, syncOut := labtest.StartHelperRaw(t, "", "sync", conf, state)
			if w := writes(syncOut); w != 5 {
				t.Fatalf("cold sync: %d writes, want 5", w)
			}
			holder, holdOut := labtest.StartHelper(t, "cli", "hold", labtest.LabVIP+":"+labtest.LabVIPPort, "500", "10m")

			// 1. A no-op reload: zero writes.
			_ = syncer.Process.Signal(syscall.SIGHUP)
			if w := writes(syncOut); w != 0 {
				t.Errorf("no-op reload: %d writes, want 0", w)
			}
			// 2. A reload that adds a service: two writes (service + destination).
			added := base + "virtual_server 192.168.100.11 6000 {\n protocol TCP\n lvs_method " + method + "\n real_server 10.20.0.1 6000 {\n  weight 1\n }\n}\n"
			if err := os.WriteFile(conf, []byte(added), 0o644); err != nil {
				t.Fatal(err)
			}
			_ = syncer.Process.Signal(syscall.SIGHUP)
			if w := writes(syncOut); w != 2 {
				t.Errorf("reload adding a service: %d writes, want 2", w)
			}
			time.Sleep(time.Second)
			// 3. kill -9 and restart: the new process adopts the table.
			_ = syncer.Process.Signal(syscall.SIGKILL)
			_ = syncer.Wait()
			time.Sleep(time.Second)
			_, syncOut = labtest.StartHelperRaw(t, "", "sync", conf, state)
			if w := writes(syncOut); w != 0 {
				t.Errorf("restart after kill -9: %d writes, want 0 (adoption)", w)
			}
			time.Sleep(time.Second)
			_ = holder.Process.Signal(syscall.SIGTERM)
			line, _ := holdOut.ReadString('\n')
			var res labtest.HoldResult
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("holder output %q: %v", line, err)
			}
			t.Logf("%s: %d connections, %d failed, at least %d pings each across two reloads and a kill -9 restart; slowest echo %d ms", method, res.Connections, res.Failed, res.Rounds, res.SlowestMs)
			if res.Connections != 500 || res.Failed != 0 || res.Rounds < 3 {
				t.Errorf("connections did not survive: %+v", res)
			}
		})
	}
}
