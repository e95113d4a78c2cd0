package vrrp

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// promoteFake records promote_secondaries calls.
type promoteFake struct {
	*fakePlatform
	pmu      sync.Mutex
	raised   []string
	restores int
}

func (p *promoteFake) PromoteSecondaries(dev string) error {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.raised = append(p.raised, dev)
	return nil
}

func (p *promoteFake) RestorePromoteSecondaries() error {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.restores++
	return nil
}

func (p *promoteFake) counts() ([]string, int) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	return slices.Clone(p.raised), p.restores
}

const promoteConf = `
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  %s
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 52
  priority 150
  advert_int 1
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`

// TestRouterPromoteSecondaries: promote_secondaries is raised on the
// instance's interface at each router build (a reload's too) and put
// back at the final stop only, as keepalived's vrrp_complete_instance
// and shutdown_vrrp_instances; without the keyword nothing is touched.
func TestRouterPromoteSecondaries(t *testing.T) {
	p := &promoteFake{fakePlatform: newFakePlatform()}
	run := func(r *Router) (stop func(handover bool) *Handoff) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		time.Sleep(50 * time.Millisecond)
		return func(handover bool) *Handoff {
			defer cancel()
			if handover {
				h := r.StopHandingOver(r.Keys())
				<-done
				return h
			}
			cancel()
			<-done
			return nil
		}
	}
	cfg := labtest.Config(t, fmt.Sprintf(promoteConf, "promote_secondaries"))
	r, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if raised, _ := p.counts(); !slices.Equal(raised, []string{"eth0"}) {
		t.Fatalf("raised on %v at start, want [eth0]", raised)
	}
	h := run(r)(true)
	if raised, restores := p.counts(); len(raised) != 1 || restores != 0 {
		t.Fatalf("a reload's handover: raised %v, restored %d times; want nothing more", raised, restores)
	}
	r2, err := NewRouter(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2.Adopt(h)
	if raised, _ := p.counts(); !slices.Equal(raised, []string{"eth0", "eth0"}) {
		t.Fatalf("raised on %v after the reload, want it raised again on eth0", raised)
	}
	run(r2)(false)
	if _, restores := p.counts(); restores != 1 {
		t.Fatalf("restored %d times at the final stop, want 1", restores)
	}

	q := &promoteFake{fakePlatform: newFakePlatform()}
	r3, err := NewRouter(labtest.Config(t, fmt.Sprintf(promoteConf, "")), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(r3)(false)
	if raised, _ := q.counts(); len(raised) != 0 {
		t.Errorf("raised on %v without promote_secondaries", raised)
	}
}
