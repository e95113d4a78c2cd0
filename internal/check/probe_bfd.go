package check

import (
	"context"
	"fmt"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/config"
)

// BFD_CHECK, as keepalived 2.2.7's check_bfd.c: the real server follows a
// bfd_instance's session, up while the session is Up and down otherwise
// (keepalived's bfd process sends Down for every session when it starts,
// then Up and Down as they change). keepalived acts on each event at
// once; lvsd reads the session's published state (bfd.Published, set by
// the daemon's runner) every delay_loop (config.BFDCheckPoll), with no
// retry. A session keepalived's bfd process does not run (a bfd_instance
// it drops) never reports: the checker keeps its start state.
func bfdProbe(c *config.Checker) Probe {
	name := c.Extra().BFD
	if c.Extra().BFDSilent {
		// keepalived's checker never hears of the session: it keeps
		// its start state, up unless alpha.
		return func(context.Context) (int, error) {
			if c.Alpha {
				return -1, fmt.Errorf("BFD instance %s runs no session (alpha: down)", name)
			}
			return -1, nil
		}
	}
	return func(context.Context) (int, error) {
		if s := bfd.Published(name); s != bfd.Up {
			return -1, fmt.Errorf("BFD instance %s is %s", name, s)
		}
		return -1, nil
	}
}
