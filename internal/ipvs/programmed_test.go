package ipvs

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

const programmedConf = `
virtual_server 10.0.0.1 80 {
  protocol TCP
  lb_algo wrr
  lb_kind NAT
  real_server 10.1.0.1 80 {
    weight 3
  }
  real_server 10.1.0.2 80 {
    weight 1
  }
}
virtual_server 10.0.0.2 80 {
  protocol TCP
  lb_algo rr
  lb_kind NAT
  real_server 10.1.0.3 80 {
    weight 1
  }
}
`

// blockingReads is a FakeKernel whose whole-table reads wait for their
// context to end while block is set: a repair that takes long.
type blockingReads struct {
	*FakeKernel
	block   bool
	reading chan struct{}
}

func (b *blockingReads) ReadTable(ctx context.Context, opts ReadOptions) (Table, error) {
	if b.block && opts.Services == nil {
		close(b.reading)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.FakeKernel.ReadTable(ctx, opts)
}

// TestSyncerUpdateAndRepair: the syncer keeps the table it last
// programmed and chooses from it how much to do — the first update reads
// and writes everything, an unchanged incremental one nothing, a weight
// change one write; a repair restores a real server removed by hand
// without a table being built; an interrupted repair reports it and
// changes nothing it knows; a failed update forgets the table.
func TestSyncerUpdateAndRepair(t *testing.T) {
	fake := NewFakeKernel()
	k := &blockingReads{FakeKernel: fake, reading: make(chan struct{})}
	s := NewSyncer(k, nil, "", false)
	ctx := context.Background()
	desired := DesiredTable(labtest.Config(t, programmedConf), nil)
	if _, noop, err := s.Update(ctx, desired, true); err != nil || noop || fake.WriteCount() != 5 {
		t.Fatalf("first update: noop %v err %v, %d writes, want 5 (2 services, 3 real servers)", noop, err, fake.WriteCount())
	}
	if _, noop, err := s.Update(ctx, desired, true); err != nil || !noop || fake.WriteCount() != 5 {
		t.Fatalf("unchanged incremental update: noop %v err %v, %d writes", noop, err, fake.WriteCount())
	}
	changed := DesiredTable(labtest.Config(t, strings.Replace(programmedConf, "weight 3", "weight 7", 1)), nil)
	if _, noop, err := s.Update(ctx, changed, true); err != nil || noop || fake.WriteCount() != 6 {
		t.Fatalf("one weight changed: noop %v err %v, %d writes, want 6", noop, err, fake.WriteCount())
	}
	// A real server removed by hand: the repair puts it back from the
	// programmed table (build is not called).
	table, _ := fake.ReadTable(ctx, ReadOptions{})
	var svc *Service
	for _, sv := range table {
		if len(sv.Dests) == 1 {
			svc = sv
		}
	}
	for _, d := range svc.Dests {
		if errs := fake.Write([]Op{{Kind: RemoveDest, Service: *svc, Dest: d}}); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	before := fake.WriteCount()
	_, interrupted, err := s.Repair(ctx, func() Table { t.Fatal("repair built a table while one was programmed"); return nil })
	if err != nil || interrupted || fake.WriteCount() != before+1 {
		t.Fatalf("repair: interrupted %v err %v, %d writes after %d, want one", interrupted, err, fake.WriteCount(), before)
	}
	// A repair cut short by InterruptRepair says so and keeps the table.
	k.block = true
	done := make(chan bool)
	go func() {
		_, interrupted, _ := s.Repair(ctx, nil)
		done <- interrupted
	}()
	<-k.reading
	s.InterruptRepair()
	select {
	case interrupted := <-done:
		if !interrupted {
			t.Error("an interrupted repair did not report it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("InterruptRepair did not end the repair")
	}
	if s.Programmed() == nil {
		t.Error("an interrupted repair forgot the programmed table")
	}
	// A full update that fails forgets it: the next one reads everything.
	k.block, k.reading = true, make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-k.reading; cancel() }()
	if _, _, err := s.Update(cctx, changed, false); err == nil {
		t.Fatal("an update whose read was cut short succeeded")
	}
	if s.Programmed() == nil {
		t.Error("an update cut short by its context forgot the table (it must keep it, as a stop does)")
	}
	k.block = false
	// A write the kernel refuses: the table is forgotten, and the next
	// incremental update reads everything.
	fake.FailNext = syscall.EPERM
	if _, _, err := s.Update(ctx, desired, true); err == nil {
		t.Fatal("a refused write did not fail the update")
	}
	if s.Programmed() != nil {
		t.Error("a failed update kept the table it did not program")
	}
	if _, noop, err := s.Update(ctx, desired, true); err != nil || noop {
		t.Errorf("after a failed update: noop %v err %v, want a full reconcile", noop, err)
	}
	s.ForgetProgrammed()
	if _, noop, err := s.Update(ctx, changed, true); err != nil || noop {
		t.Errorf("after ForgetProgrammed an incremental update was a no-op (noop %v err %v): it must read everything", noop, err)
	}
	s.InterruptRepair() // none in progress: nothing happens
}
