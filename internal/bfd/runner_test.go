package bfd

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// wire connects runners in memory: what one sends to a neighbour arrives
// on the runner that has that address, TTL 255, unless the wire is cut.
type wire struct {
	mu      sync.Mutex
	cut     bool
	runners map[netip.Addr]*Runner
	ttl     int
}

type fakeTransport struct {
	w    *wire
	r    *Runner
	self netip.Addr
}

func (f *fakeTransport) open(*instance) error { return nil }
func (f *fakeTransport) closeOne(*instance)   {}
func (f *fakeTransport) close()               {}
func (f *fakeTransport) send(in *instance, b []byte) error {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	if f.w.cut {
		return nil
	}
	to := f.w.runners[in.cfg.Neighbor]
	if to == nil {
		return nil // nobody there
	}
	m := received{src: f.self, dst: in.cfg.Neighbor, ttl: f.w.ttl, b: b}
	go func() {
		select {
		case to.rx <- m:
		case <-to.done:
		}
	}()
	return nil
}

type event struct {
	at    time.Time
	name  string
	state State
}

func TestRunnerInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
		w := &wire{runners: map[netip.Addr]*Runner{}, ttl: 255}
		mk := func(self, peer netip.Addr, name string, minRx, minTx uint32, mult uint8) *Runner {
			r := NewRunner([]Instance{{SessionConfig: SessionConfig{Name: name, MinRx: minRx, MinTx: minTx, IdleTx: DefaultIdleTx, Multiplier: mult},
				Neighbor: peer, Source: self}}, nil)
			r.tr = &fakeTransport{w: w, r: r, self: self}
			w.runners[self] = r
			return r
		}
		ra := mk(a4, b4, "to_b", 100000, 100000, 3)
		rb := mk(b4, a4, "to_a", 200000, 200000, 3)
		var mu sync.Mutex
		var evs []event
		ra.Watch(func(n string, s State) { mu.Lock(); evs = append(evs, event{time.Now(), n, s}); mu.Unlock() })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		go ra.Run(ctx)
		go rb.Run(ctx)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if ra.State("to_b") != Up || rb.State("to_a") != Up {
			t.Fatalf("not Up: %v %v", ra.State("to_b"), rb.State("to_a"))
		}
		mu.Lock()
		if len(evs) != 2 || evs[0].state != Down || evs[1].state != Up || evs[1].at.Sub(start) > time.Second {
			t.Fatalf("events %v", evs)
		}
		mu.Unlock()
		// a's detection time: b's mult 3 × max(a's min_rx 100 ms, b's min_tx 200 ms) = 600 ms.
		w.mu.Lock()
		w.cut = true
		w.mu.Unlock()
		cutAt := time.Now()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		last := evs[len(evs)-1]
		mu.Unlock()
		if last.state != Down {
			t.Fatalf("after the cut: %v", evs)
		}
		if took := last.at.Sub(cutAt); took > 600*time.Millisecond || took < 400*time.Millisecond {
			t.Fatalf("Down %v after the cut, want within the 600 ms detection time (and after b's last packet's gap)", took)
		}
		w.mu.Lock()
		w.cut = false
		w.mu.Unlock()
		restored := time.Now()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		mu.Lock()
		last = evs[len(evs)-1]
		mu.Unlock()
		if last.state != Up || last.at.Sub(restored) > 2*time.Second {
			t.Fatalf("after the restore: %v", evs)
		}
		// A packet with TTL 254 fails GTSM: the session expires.
		w.mu.Lock()
		w.ttl = 254
		w.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ra.State("to_b") != Down {
			t.Fatalf("TTL 254 packets were accepted")
		}
		cancel()
		synctest.Wait()
	})
}

// TestRunnerUpdateKeepsSessions: a reload (Update) keeps a session of the
// same name Up; new timers go through a poll sequence (the peer answers
// Final and both ends use them); a new instance starts Down, a removed one
// is gone.
func TestRunnerUpdateKeepsSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a4, b4, c4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
		w := &wire{runners: map[netip.Addr]*Runner{}, ttl: 255}
		inst := func(name string, self, peer netip.Addr, tx uint32) Instance {
			return Instance{SessionConfig: SessionConfig{Name: name, MinRx: 100000, MinTx: tx, IdleTx: DefaultIdleTx, Multiplier: 3},
				Neighbor: peer, Source: self}
		}
		mk := func(self netip.Addr, insts ...Instance) *Runner {
			r := NewRunner(insts, nil)
			r.tr = &fakeTransport{w: w, r: r, self: self}
			w.runners[self] = r
			return r
		}
		ra := mk(a4, inst("to_b", a4, b4, 100000))
		rb := mk(b4, inst("to_a", b4, a4, 100000))
		var mu sync.Mutex
		var evs []string
		ra.Watch(func(n string, s State) { mu.Lock(); evs = append(evs, n+":"+s.String()); mu.Unlock() })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go ra.Run(ctx)
		go rb.Run(ctx)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if ra.State("to_b") != Up {
			t.Fatal("not Up")
		}
		// b's detection time of a: a's mult 3 × max(b's min_rx 100, a's min_tx 100).
		if got := rb.inst[0].sess.DetectTime(); got != 300*time.Millisecond {
			t.Fatalf("b's detection time %v", got)
		}
		ra.Update(ctx, []Instance{inst("to_b", a4, b4, 200000), inst("to_c", a4, c4, 100000)})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := strings.Join(evs, " ")
		mu.Unlock()
		if got != "to_b:Down to_b:Up to_c:Down" {
			t.Fatalf("events %s: to_b must stay Up across the update", got)
		}
		// The new min_tx reached b by the poll sequence.
		if got := rb.inst[0].sess.DetectTime(); got != 600*time.Millisecond {
			t.Errorf("b's detection time after the update %v, want 3 × 200 ms", got)
		}
		if got := ra.inst[0].sess.TxInterval(); got != 200*time.Millisecond {
			t.Errorf("a's tx interval after the update %v, want 200 ms", got)
		}
		ra.Update(ctx, []Instance{inst("to_c", a4, c4, 100000)})
		time.Sleep(time.Second)
		synctest.Wait()
		if len(ra.inst) != 1 || ra.inst[0].cfg.Name != "to_c" || ra.State("to_c") != Down {
			t.Fatalf("after removing to_b: %d instances", len(ra.inst))
		}
		cancel()
		synctest.Wait()
	})
}
