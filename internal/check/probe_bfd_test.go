package check

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestBFDCheckFollowsSession: a real server with a BFD_CHECK is up while
// its bfd_instance's session is published Up and down otherwise (Down at
// start, as keepalived's bfd process reports every session at start),
// within a few polls of each change; the real server without it stays up.
// A bfd_instance without neighbor runs no session: keepalived's checker
// never hears of it and keeps its start state (up; down with alpha).
func TestBFDCheckFollowsSession(t *testing.T) {
	cfg := runnableConfig(t, `bfd_instance chk_bfd_a {
    neighbor_ip 10.0.0.2
}
bfd_instance chk_bfd_silent {
    min_rx 100
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
    real_server 10.0.0.4 80 {
        BFD_CHECK {
            name chk_bfd_silent
        }
    }
    real_server 10.0.0.5 80 {
        BFD_CHECK {
            name chk_bfd_silent
            alpha
        }
    }
}
`)
	t.Cleanup(func() { bfd.Unpublish("chk_bfd_a") })
	vs := cfg.VirtualServers[0]
	a, b, c, d := vs.RealServers[0], vs.RealServers[1], vs.RealServers[2], vs.RealServers[3]
	m := NewManager(nil, nil, 2, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	state := func() string {
		s := m.Snapshot()
		return fmt.Sprintf("a=%v b=%v", s.RealServerUp(vs, a), s.RealServerUp(vs, b)) +
			fmt.Sprintf(" silent=%v silent_alpha=%v", s.RealServerUp(vs, c), s.RealServerUp(vs, d))
	}
	expect := func(what, want string) {
		t.Helper()
		took, ok := labtest.Poll(5*time.Second, 5*time.Millisecond, func() bool { return state() == want })
		if !ok {
			t.Fatalf("%s: %s, want %s", what, state(), want)
		}
		t.Logf("%s: %v", what, took)
	}
	expect("never published: Down", "a=false b=true silent=true silent_alpha=false")
	bfd.Publish("chk_bfd_a", bfd.Up)
	expect("Up", "a=true b=true silent=true silent_alpha=false")
	bfd.Publish("chk_bfd_a", bfd.Down)
	expect("Down", "a=false b=true silent=true silent_alpha=false")
	bfd.Publish("chk_bfd_a", bfd.Init)
	time.Sleep(3 * 50 * time.Millisecond)
	if got := state(); got != "a=false b=true silent=true silent_alpha=false" {
		t.Fatalf("Init is not Up: %s", got)
	}
	bfd.Publish("chk_bfd_a", bfd.Up)
	expect("Up again", "a=true b=true silent=true silent_alpha=false")
}

// runnableConfig loads a configuration lvsd run runs (skipped errors
// allowed, as keepalived runs past them).
func runnableConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	res := config.Load("lab.conf", config.Options{ConfigID: "lab", FS: config.MapFS{"lab.conf": src}})
	if !res.Runnable() {
		t.Fatalf("not runnable: %v", res.Diags.Sorted())
	}
	return res.Config
}
