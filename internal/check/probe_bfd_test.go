package check

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestBFDCheckFollowsSession: a real server with a BFD_CHECK is up while
// its bfd_instance's session is published Up and down otherwise (Down at
// start, as keepalived's bfd process reports every session at start),
// within a few polls of each change; the real server without it stays up.
func TestBFDCheckFollowsSession(t *testing.T) {
	cfg := labtest.Config(t, `bfd_instance chk_bfd_a {
    neighbor_ip 10.0.0.2
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        BFD_CHECK {
            name chk_bfd_a
        }
    }
    real_server 10.0.0.3 80 {
        weight 1
    }
}
`)
	t.Cleanup(func() { bfd.Unpublish("chk_bfd_a") })
	vs := cfg.VirtualServers[0]
	a, b := vs.RealServers[0], vs.RealServers[1]
	m := NewManager(nil, nil, 2, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	state := func() string {
		s := m.Snapshot()
		return fmt.Sprintf("a=%v b=%v", s.RealServerUp(vs, a), s.RealServerUp(vs, b))
	}
	expect := func(what, want string) {
		t.Helper()
		took, ok := labtest.Poll(5*time.Second, 5*time.Millisecond, func() bool { return state() == want })
		if !ok {
			t.Fatalf("%s: %s, want %s", what, state(), want)
		}
		t.Logf("%s: %v", what, took)
	}
	expect("never published: Down", "a=false b=true")
	bfd.Publish("chk_bfd_a", bfd.Up)
	expect("Up", "a=true b=true")
	bfd.Publish("chk_bfd_a", bfd.Down)
	expect("Down", "a=false b=true")
	bfd.Publish("chk_bfd_a", bfd.Init)
	time.Sleep(3 * 50 * time.Millisecond)
	if got := state(); got != "a=false b=true" {
		t.Fatalf("Init is not Up: %s", got)
	}
	bfd.Publish("chk_bfd_a", bfd.Up)
	expect("Up again", "a=true b=true")
}
