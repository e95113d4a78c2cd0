package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

func mustConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	res := config.Load("t.conf", config.Options{ConfigID: "x", FS: config.MapFS{"t.conf": src}})
	if diags := res.Diags.Sorted(); len(diags) > 0 {
		t.Fatalf("config diagnostics: %v", diags)
	}
	return res.Config
}

const seedDirector = `
virtual_server 10.0.0.10 80 {
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 10.0.1.1 80 { weight 16 }
    real_server 10.0.1.2 80 { weight 12 }
    real_server 10.0.1.3 80 { weight 8 }
    real_server 10.0.1.4 80 { weight 0 }
}
virtual_server 10.0.0.11 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    persistence_timeout 50
    real_server 10.0.1.1 443 { weight 1 }
    real_server 10.0.1.2 443 { weight 1 }
}
virtual_server fwmark 300 {
    lvs_sched wrr
    lvs_method DR
    persistence_timeout 900
    real_server 10.0.1.1 { weight 2 }
}
virtual_server 10.0.0.12 8080 {
    lvs_sched wlc
    lvs_method NAT
    protocol UDP
    real_server 10.0.1.5 9090 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
}
`

func TestDesiredTableSaveFormat(t *testing.T) {
	got := DesiredTable(mustConfig(t, seedDirector), nil).SaveFormat()
	want := strings.Join([]string{
		"-A -f 300 -s wrr -p 900",
		"-A -t 10.0.0.10:80 -s wrr",
		"-A -t 10.0.0.11:443 -s rr -p 50",
		"-A -u 10.0.0.12:8080 -s wlc",
		"-a -f 300 -r 10.0.1.1:0 -g -w 2",
		"-a -t 10.0.0.10:80 -r 10.0.1.1:80 -g -w 16",
		"-a -t 10.0.0.10:80 -r 10.0.1.2:80 -g -w 12",
		"-a -t 10.0.0.10:80 -r 10.0.1.3:80 -g -w 8",
		"-a -t 10.0.0.10:80 -r 10.0.1.4:80 -g -w 0",
		"-a -t 10.0.0.11:443 -r 10.0.1.1:443 -g -w 1",
		"-a -t 10.0.0.11:443 -r 10.0.1.2:443 -g -w 1",
		"-a -u 10.0.0.12:8080 -r 10.0.1.5:9090 -m -w 3 -x 100 -y 10",
	}, "\n") + "\n"
	if got != want {
		t.Errorf("desired table\n got:\n%s\nwant:\n%s", got, want)
	}
}

// TestDesiredTableGroupsFlagsAndNetmasks: a group's entries get a host
// mask whatever persistence_granularity says, as keepalived 2.2.7
// programs them (ipvs_group_range_cmd, ipvs_group_cmd).
func TestDesiredTableGroupsFlagsAndNetmasks(t *testing.T) {
	cfg := mustConfig(t, `
virtual_server_group G {
    10.0.0.1-3 80
    fwmark 5
}
virtual_server group G {
    protocol TCP
    lvs_sched sh
    sh-port
    sh-fallback
    persistence_timeout 60
    persistence_granularity 255.255.255.0
    real_server 10.0.1.1 80 { weight 1 }
}
virtual_server 2001:db8::1 80 {
    protocol TCP
    lvs_sched mh
    mh-port
    persistence_timeout
    persistence_granularity 64
    lvs_method TUN
    real_server 2001:db8::2 80 { weight 2 }
}
virtual_server 10.0.0.9 53 {
    protocol UDP
    lvs_sched rr
    ops
    real_server 10.0.1.9 53 { }
}`)
	got := DesiredTable(cfg, nil).SaveFormat()
	for _, line := range []string{
		"-A -t 10.0.0.1:80 -s sh -p 60 -b sh-fallback,sh-port",
		"-A -t 10.0.0.2:80 -s sh -p 60 -b sh-fallback,sh-port",
		"-A -t 10.0.0.3:80 -s sh -p 60 -b sh-fallback,sh-port",
		"-A -f 5 -s sh -p 60 -b sh-fallback,sh-port",
		"-a -f 5 -r 10.0.1.1:0 -m -w 1",
		"-A -t [2001:db8::1]:80 -s mh -p 360 -M 64 -b mh-port",
		"-a -t [2001:db8::1]:80 -r [2001:db8::2]:80 -i -w 2 --tun-type ipip",
		"-A -u 10.0.0.9:53 -s rr -o",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
	for _, s := range DesiredTable(cfg, nil) {
		if !s.Netmask.IsValid() {
			t.Errorf("%s has no netmask; the kernel rejects that", s.ServiceKey)
		}
	}
}

type downSet map[netip.Addr]bool

func (d downSet) RealServerUp(_ *config.VirtualServer, rs *config.RealServer) bool {
	return !d[rs.Addr]
}

func TestDesiredTableHealth(t *testing.T) {
	cfg := mustConfig(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    quorum 3
    sorry_server 10.9.9.9 80
    real_server 10.0.1.1 80 { weight 2 }
    real_server 10.0.1.2 80 {
        weight 2
        inhibit_on_failure
    }
}`)
	tests := []struct {
		name string
		down downSet
		want []string
	}{
		{"all up", nil, []string{"10.0.1.1:80 w=2", "10.0.1.2:80 w=2"}},
		// keepalived 2.2.7 perform_quorum_state: the live real servers are
		// deleted, an inhibit_on_failure one set to weight 0 instead.
		{"inhibited goes to weight 0, quorum lost: sorry", downSet{netip.MustParseAddr("10.0.1.2"): true}, []string{"10.0.1.2:80 w=0", "10.9.9.9:80 w=1"}},
		{"both down", downSet{netip.MustParseAddr("10.0.1.1"): true, netip.MustParseAddr("10.0.1.2"): true}, []string{"10.0.1.2:80 w=0", "10.9.9.9:80 w=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Health
			if tt.down != nil {
				h = tt.down
			}
			svc := DesiredTable(cfg, h)[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}]
			var got []string
			for _, d := range svc.SortedDests() {
				got = append(got, d.DestKey.String()+" w="+strconv.FormatUint(uint64(d.Weight), 10))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v want %v", got, tt.want)
			}
		})
	}
	// sorry_server_inhibit: the sorry server is in the table at weight 0
	// while quorum holds (keepalived's init_service_vs), at its weight
	// once quorum is lost.
	inhibitCfg := mustConfig(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    quorum 3
    sorry_server 10.9.9.9 80
    sorry_server_inhibit
    real_server 10.0.1.1 80 { weight 2 }
    real_server 10.0.1.2 80 { weight 2 }
}`)
	for _, tt := range []struct {
		down downSet
		want string
	}{
		{nil, "10.0.1.1:80 w=2,10.0.1.2:80 w=2,10.9.9.9:80 w=0"},
		{downSet{netip.MustParseAddr("10.0.1.2"): true}, "10.9.9.9:80 w=1"},
	} {
		var h Health
		if tt.down != nil {
			h = tt.down
		}
		svc := DesiredTable(inhibitCfg, h)[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}]
		var got []string
		for _, d := range svc.SortedDests() {
			got = append(got, d.DestKey.String()+" w="+strconv.FormatUint(uint64(d.Weight), 10))
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("sorry_server_inhibit, down %v: got %v want %s", tt.down, got, tt.want)
		}
	}
	// Without a sorry server a down inhibit_on_failure server stays at weight 0.
	cfg2 := mustConfig(t, `virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 5
        inhibit_on_failure
    }
    real_server 10.0.1.2 80 { weight 5 }
}`)
	svc := DesiredTable(cfg2, downSet{netip.MustParseAddr("10.0.1.1"): true, netip.MustParseAddr("10.0.1.2"): true})[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}]
	if len(svc.Dests) != 1 || svc.SortedDests()[0].Weight != 0 {
		t.Errorf("want only the inhibited server at weight 0, got %v", svc.SortedDests())
	}
}

func TestSyncerWritesOnlyDifferences(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	cfg := mustConfig(t, seedDirector)
	desired := DesiredTable(cfg, nil)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	cold := k.Writes
	if cold != 4+8 {
		t.Errorf("cold sync: %d writes, want 12 (4 services + 8 destinations)", cold)
	}
	observed, _ := ReadTable(k)
	if observed.SaveFormat() != desired.SaveFormat() {
		t.Fatalf("kernel differs after sync:\n%s", observed.SaveFormat())
	}

	// A no-op reconcile writes nothing.
	k.Writes = 0
	if _, err := s.Reconcile(DesiredTable(mustConfig(t, seedDirector), nil)); err != nil || k.Writes != 0 {
		t.Fatalf("no-op reconcile: %d writes, err %v", k.Writes, err)
	}

	// One weight change is one write, and the DR method survives it.
	changed := strings.Replace(seedDirector, "weight 12", "weight 13", 1)
	k.Writes = 0
	if _, err := s.Reconcile(DesiredTable(mustConfig(t, changed), nil)); err != nil || k.Writes != 1 {
		t.Fatalf("weight change: %d writes, err %v", k.Writes, err)
	}
	observed, _ = ReadTable(k)
	d := observed[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.10"), Port: 80}].Dests[DestKey{netip.MustParseAddr("10.0.1.2"), 80}]
	if d.Weight != 13 || d.Method != DR {
		t.Errorf("after update: %+v (want weight 13, DR)", d)
	}
}

func TestSyncerRepairsAndLeavesForeignServices(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	desired := DesiredTable(mustConfig(t, seedDirector), nil)
	// A foreign service someone added with ipvsadm.
	foreign := Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 22}, Scheduler: "rr", Netmask: serviceNetmask(&config.VirtualServer{}, ServiceKey{})}
	if err := Apply(k, Op{Kind: CreateService, Service: foreign}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	// Someone deletes a destination and a service by hand.
	svc := desired[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.10"), Port: 80}]
	_ = Apply(k, Op{Kind: RemoveDest, Service: *svc, Dest: svc.Dests[DestKey{netip.MustParseAddr("10.0.1.1"), 80}]})
	_ = Apply(k, Op{Kind: RemoveService, Service: *desired[ServiceKey{FWMark: 300}]})
	k.Writes = 0
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if k.Writes != 3 { // service + its dest + the deleted dest
		t.Errorf("repair: %d writes, want 3", k.Writes)
	}
	// Dropping a service from the config removes it; the foreign one stays.
	smaller := DesiredTable(mustConfig(t, `virtual_server 10.0.0.10 80 { lb_kind DR
 protocol TCP
 real_server 10.0.1.1 80 { } }`), nil)
	if _, err := s.Reconcile(smaller); err != nil {
		t.Fatal(err)
	}
	observed, _ := ReadTable(k)
	if _, ok := observed[foreign.ServiceKey]; !ok {
		t.Error("foreign service was removed")
	}
	if len(observed) != 2 {
		t.Errorf("want the foreign service and 10.0.0.10:80, got\n%s", observed.SaveFormat())
	}
	// With lvs_flush, foreign services go too.
	fs := NewSyncer(k, nil, "", true)
	if _, err := fs.Reconcile(smaller); err != nil {
		t.Fatal(err)
	}
	observed, _ = ReadTable(k)
	if len(observed) != 1 {
		t.Errorf("lvs_flush: want only 10.0.0.10:80, got\n%s", observed.SaveFormat())
	}
}

func TestSyncerErrorsAreCountedAndRetried(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	desired := DesiredTable(mustConfig(t, seedDirector), nil)
	k.FailNext = syscall.ENOMEM
	st, err := s.Reconcile(desired)
	if err == nil || st.Errors != 1 {
		t.Fatalf("want one counted error, got %v, %+v", err, st)
	}
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatalf("retry: %v", err)
	}
	observed, _ := ReadTable(k)
	if observed.SaveFormat() != desired.SaveFormat() {
		t.Errorf("not converged after retry")
	}
	// EEXIST on create and ESRCH on remove mean someone else got there first.
	if err := Apply(k, Op{Kind: CreateService, Service: *desired[ServiceKey{FWMark: 300}]}); err != nil {
		t.Errorf("EEXIST not treated as converged: %v", err)
	}
	gone := Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.9"), Port: 1}, Netmask: serviceNetmask(&config.VirtualServer{}, ServiceKey{})}
	if err := Apply(k, Op{Kind: RemoveService, Service: gone}); err != nil {
		t.Errorf("ESRCH not treated as converged: %v", err)
	}
}

func TestSyncerStateSurvivesRestart(t *testing.T) {
	k := NewFakeKernel()
	state := filepath.Join(t.TempDir(), "ipvs-owned.json")
	s := NewSyncer(k, nil, state, false)
	desired := DesiredTable(mustConfig(t, seedDirector), nil)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	// A reconcile that changes nothing (every repair) leaves the file alone.
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(state, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(state); err != nil || !fi.ModTime().Equal(past) {
		t.Errorf("a no-op reconcile rewrote the state file (%v)", err)
	}
	// "kill -9", then a restart with a config that dropped fwmark 300: the
	// new process adopts what is there (no writes for unchanged services)
	// and removes only the dropped service.
	restarted := NewSyncer(k, nil, state, false)
	delete(desired, ServiceKey{FWMark: 300})
	k.Writes = 0
	if _, err := restarted.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if k.Writes != 1 {
		t.Errorf("restart: %d writes, want 1 (remove fwmark 300)", k.Writes)
	}
	if again := NewSyncer(k, nil, state, false); again.owned[ServiceKey{FWMark: 300}] || len(again.owned) != 3 {
		t.Errorf("state file after the removal owns %v, want the 3 remaining services", again.owned)
	}
	if err := restarted.Stop(StopKeep); err != nil || len(mustRead(t, k)) != 3 {
		t.Errorf("StopKeep changed the table")
	}
	if err := restarted.Stop(StopRemoveOwn); err != nil || len(mustRead(t, k)) != 0 {
		t.Errorf("StopRemoveOwn left services: %v", err)
	}
}

func mustRead(t *testing.T, k Kernel) Table {
	t.Helper()
	tab, err := ReadTable(k)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestReconcileServicesTouchesOnlyTheChangedService(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	before := DesiredTable(mustConfig(t, seedDirector), nil)
	if _, err := s.Reconcile(before); err != nil {
		t.Fatal(err)
	}
	after := DesiredTable(mustConfig(t, strings.Replace(seedDirector, "weight 12", "weight 13", 1)), nil)
	changed, removed := ChangedServices(before, after)
	if len(changed) != 1 || len(removed) != 0 {
		t.Fatalf("ChangedServices: %v removed=%v, want one service", changed, removed)
	}
	k.Writes = 0
	if _, err := s.ReconcileServices(context.Background(), before, after, changed, nil); err != nil || k.Writes != 1 {
		t.Fatalf("targeted reconcile: %d writes, err %v", k.Writes, err)
	}
	observed, _ := ReadTable(k)
	if observed.SaveFormat() != after.SaveFormat() {
		t.Errorf("kernel differs after the targeted reconcile:\n%s", observed.SaveFormat())
	}
	// A service missing from the kernel is created by it too.
	_ = Apply(k, Op{Kind: RemoveService, Service: *after[changed[0]]})
	k.Writes = 0
	if _, err := s.ReconcileServices(context.Background(), before, after, changed, nil); err != nil {
		t.Fatal(err)
	}
	if observed, _ := ReadTable(k); observed.SaveFormat() != after.SaveFormat() {
		t.Errorf("missing service not recreated:\n%s", observed.SaveFormat())
	}
}

// TestReconcileServicesReadsTheKernelsAttributes: a targeted reconcile
// compares a service's attributes with the kernel's, not with what it last
// wrote: a scheduler changed by hand is put back with the weight change.
func TestReconcileServicesReadsTheKernelsAttributes(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	before := DesiredTable(mustConfig(t, seedDirector), nil)
	if _, err := s.Reconcile(before); err != nil {
		t.Fatal(err)
	}
	after := DesiredTable(mustConfig(t, strings.Replace(seedDirector, "weight 12", "weight 13", 1)), nil)
	changed, _ := ChangedServices(before, after)
	byHand := *before[changed[0]]
	byHand.Scheduler = "sed"
	if err := Apply(k, Op{Kind: UpdateService, Service: byHand}); err != nil {
		t.Fatal(err)
	}
	k.Writes = 0
	if _, err := s.ReconcileServices(context.Background(), before, after, changed, nil); err != nil || k.Writes != 2 {
		t.Fatalf("targeted reconcile: %d writes (want the service and its destination), err %v", k.Writes, err)
	}
	if observed, _ := ReadTable(k); observed.SaveFormat() != after.SaveFormat() {
		t.Errorf("kernel differs after the targeted reconcile:\n%s", lineDiff(after.SaveFormat(), observed.SaveFormat()))
	}
}

func TestInterruptedReconcileStillOwnsWhatItCreated(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.ReconcileContext(ctx, DesiredTable(mustConfig(t, seedDirector), nil))
	if err == nil {
		t.Fatal("a cancelled reconcile reported success")
	}
	// Nothing was written; now write one service and stop it.
	if _, err := s.Reconcile(DesiredTable(mustConfig(t, seedDirector), nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(StopRemoveOwn); err != nil {
		t.Fatal(err)
	}
	if observed, _ := ReadTable(k); len(observed) != 0 {
		t.Errorf("services left after stop: %d", len(observed))
	}
}

func TestReconcileServicesUpdatesAttributesAndRemoves(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	before := DesiredTable(mustConfig(t, seedDirector), nil)
	if _, err := s.Reconcile(before); err != nil {
		t.Fatal(err)
	}
	// Drop the first service and change the scheduler of another.
	keys := before.SortedKeys()
	after := Table{}
	for _, key := range keys[1:] {
		svc := *before[key]
		after[key] = &svc
	}
	changedSvc := *after[keys[1]]
	changedSvc.Scheduler = "lblcr"
	after[keys[1]] = &changedSvc
	changed, removed := ChangedServices(before, after)
	if len(changed) != 1 || len(removed) != 1 {
		t.Fatalf("changed %v removed %v", changed, removed)
	}
	if _, err := s.ReconcileServices(context.Background(), before, after, changed, removed); err != nil {
		t.Fatal(err)
	}
	if observed, _ := ReadTable(k); observed.SaveFormat() != after.SaveFormat() {
		t.Errorf("kernel after a targeted reload:\n%s\nwant\n%s", observed.SaveFormat(), after.SaveFormat())
	}
}

// TestSyncerBatchesWrites: a cold sync goes out in sends of up to maxBatch
// writes; a single change is a send of one.
func TestSyncerBatchesWrites(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "virtual_server 10.0.%d.1 80 {\n lb_kind DR\n protocol TCP\n", i)
		for r := 1; r <= 4; r++ {
			fmt.Fprintf(&b, " real_server 172.16.%d.%d 80 {\n  weight %d\n }\n", i, r, r)
		}
		b.WriteString("}\n")
	}
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	desired := DesiredTable(mustConfig(t, b.String()), nil)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if k.Writes != 500 || k.Batches != (500+maxBatch-1)/maxBatch {
		t.Errorf("cold sync: %d writes in %d batches, want 500 in %d", k.Writes, k.Batches, (500+maxBatch-1)/maxBatch)
	}
	if observed, _ := ReadTable(k); observed.SaveFormat() != desired.SaveFormat() {
		t.Errorf("batched cold sync did not converge")
	}
	changed := DesiredTable(mustConfig(t, strings.Replace(b.String(), "weight 1\n", "weight 9\n", 1)), nil)
	k.Writes, k.Batches = 0, 0
	if _, err := s.Reconcile(changed); err != nil {
		t.Fatal(err)
	}
	if k.Writes != 1 || k.Batches != 0 {
		t.Errorf("one weight change: %d writes in %d batches, want a send of one", k.Writes, k.Batches)
	}
}
