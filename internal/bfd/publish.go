package bfd

import "sync"

// The process's published session states, by bfd_instance name: what
// track_bfd (internal/vrrp) and BFD_CHECK (internal/check) read. The
// daemon's runner publishes (Runner.Publish); a name never published is
// Down, as keepalived's VRRP and checker processes take a session to be
// until its first Up event.
var published sync.Map // string -> State

// Publish sets name's published state.
func Publish(name string, s State) { published.Store(name, s) }

// Unpublish forgets name (its trackers then see it Down).
func Unpublish(name string) { published.Delete(name) }

// Published is name's published state (Down when never published).
func Published(name string) State {
	if v, ok := published.Load(name); ok {
		return v.(State)
	}
	return Down
}
