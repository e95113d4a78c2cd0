package ipvs

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
)

func TestSetSyncDaemons(t *testing.T) {
	k := NewFakeKernel()
	backup := SyncDaemon{State: SyncBackup, Interface: "eth0", SyncID: 51}
	master := SyncDaemon{State: SyncMaster, Interface: "eth0", SyncID: 51}
	steps := []struct {
		name   string
		want   []SyncDaemon
		writes int
		run    []SyncState
	}{
		{"start the backup", []SyncDaemon{backup}, 1, []SyncState{SyncBackup}},
		{"unchanged: nothing sent (kernel defaults not compared)", []SyncDaemon{backup}, 0, []SyncState{SyncBackup}},
		{"become master: backup stopped, master started", []SyncDaemon{master}, 2, []SyncState{SyncMaster}},
		{"both", []SyncDaemon{master, backup}, 1, []SyncState{SyncMaster, SyncBackup}},
		{"a changed group restarts that daemon", []SyncDaemon{master, func() SyncDaemon {
			b := backup
			b.Group = netip.MustParseAddr("224.0.0.99")
			return b
		}()}, 2, []SyncState{SyncMaster, SyncBackup}},
		{"a backup's maxlen below the kernel's 1024 is not restarted each time", []SyncDaemon{master, func() SyncDaemon {
			b := backup
			b.MaxLen = 100
			return b
		}()}, 2, []SyncState{SyncMaster, SyncBackup}},
		{"... unchanged", []SyncDaemon{master, func() SyncDaemon {
			b := backup
			b.MaxLen = 100
			return b
		}()}, 0, []SyncState{SyncMaster, SyncBackup}},
		{"none", nil, 2, nil},
	}
	for _, s := range steps {
		before := k.DaemonWrites
		n, err := SetSyncDaemons(k, s.want)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, _ := k.SyncDaemons()
		var states []SyncState
		for _, d := range got {
			states = append(states, d.State)
		}
		if n != s.writes || k.DaemonWrites-before != s.writes || len(states) != len(s.run) {
			t.Fatalf("%s: %d writes (kernel saw %d), running %v; want %d writes, running %v", s.name, n, k.DaemonWrites-before, states, s.writes, s.run)
		}
		for i := range states {
			if states[i] != s.run[i] {
				t.Fatalf("%s: running %v, want %v", s.name, states, s.run)
			}
		}
	}
	// A missing interface is reported, and retried at the next call.
	k.SyncInterfaces = map[string]bool{"eth1": true}
	if _, err := SetSyncDaemons(k, []SyncDaemon{backup}); err == nil || !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("start on a missing interface: %v, want ENODEV", err)
	}
	k.SyncInterfaces["eth0"] = true
	if n, err := SetSyncDaemons(k, []SyncDaemon{backup}); err != nil || n != 1 {
		t.Fatalf("retry: %d writes, %v", n, err)
	}
}
