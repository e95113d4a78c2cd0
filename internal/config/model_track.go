package config

import "time"

// TrackFileInit is what init_file asks of a track file at start-up.
type TrackFileInit int

const (
	// TrackFileNoInit: no init_file; the file is only read.
	TrackFileNoInit TrackFileInit = iota
	// TrackFileCreate: init_file without overwrite; the file is written
	// with InitValue only if it does not exist.
	TrackFileCreate
	// TrackFileOverwrite: init_file ... overwrite; the file is written
	// with InitValue at start-up (not on a reload, as keepalived).
	TrackFileOverwrite
)

// TrackFile is a top-level track_file block (vrrp_track_file is its
// deprecated synonym), keepalived 2.2.7's tracked_file_t. The file holds an
// integer; what tracks it (a vrrp_instance or vrrp_sync_group track_file
// entry, a FILE_CHECK) multiplies it by a weight.
type TrackFile struct {
	Name string `json:"name"`
	// Path is the file keyword, as written (keepalived resolves it with
	// realpath when it starts watching).
	Path string `json:"file"`
	// Weight is the default weight of the entries tracking the file
	// (1 when not given), WeightReverse its "reverse".
	Weight        int  `json:"weight"`
	WeightReverse bool `json:"weight_reverse,omitempty"`
	// Init and InitValue are init_file [VALUE] [overwrite].
	Init      TrackFileInit `json:"init_file,omitempty"`
	InitValue int           `json:"init_value,omitempty"`
	Pos       Pos           `json:"pos"`
}

// ParamMatch is how a vrrp_track_process compares a process's parameters.
type ParamMatch int

const (
	// ParamMatchNone: parameters are not compared.
	ParamMatchNone ParamMatch = iota
	// ParamMatchExact: the parameters are exactly Params.
	ParamMatchExact
	// ParamMatchPartial: the parameters start with Params.
	ParamMatchPartial
	// ParamMatchInitial: the parameters start with Params, the last one
	// compared as a prefix.
	ParamMatchInitial
)

// TrackProcess is a vrrp_track_process block (keepalived 2.2.7's
// vrrp_tracked_process_t): the instances tracking it have quorum while
// Quorum..QuorumMax processes match.
type TrackProcess struct {
	Name string `json:"name"`
	// Process is the process keyword's name: the command's comm (at most
	// 15 bytes, as /proc shows it) or, with FullCommand, argv[0] as in
	// /proc/PID/cmdline. Params are the words after it.
	Process     string     `json:"process"`
	Params      []string   `json:"params,omitempty"`
	ParamMatch  ParamMatch `json:"param_match,omitempty"`
	FullCommand bool       `json:"full_command,omitempty"`
	// Weight is the default weight of the entries tracking it (0 when not
	// given: no quorum is FAULT), WeightReverse its "reverse".
	Weight        int  `json:"weight"`
	WeightReverse bool `json:"weight_reverse,omitempty"`
	Quorum        int  `json:"quorum"`
	// QuorumMax is quorum_max (keepalived's UINT_MAX when not given).
	QuorumMax int64 `json:"quorum_max"`
	// ForkDelay and TerminateDelay are fork_delay and terminate_delay
	// (delay sets both): how long a gain of quorum by a tracked process
	// forking, and a loss by a process ending, wait before they count.
	ForkDelay      time.Duration `json:"fork_delay,omitempty"`
	TerminateDelay time.Duration `json:"terminate_delay,omitempty"`
	Pos            Pos           `json:"pos"`
}

// TrackGroup is a track_group block: the VRRP instances that track the
// interfaces of the static addresses, routes and rules naming it.
type TrackGroup struct {
	Name    string   `json:"name"`
	Members []string `json:"group"`
	Pos     Pos      `json:"pos"`
}

// StaticTrackLinks are the interfaces instance tracks through track
// groups, as keepalived's static_track_group_init adds them: each static
// address's dev, static route's dev and static rule's iif whose
// track_group lists the instance, unless the item is no_track. A member
// faults while one of them is down, as for track_interface without weight.
func (c *Config) StaticTrackLinks(instance string) []string {
	inGroup := func(group string) bool {
		g := c.TrackGroups[group]
		if g == nil {
			return false
		}
		for _, m := range g.Members {
			if m == instance {
				return true
			}
		}
		return false
	}
	var links []string
	add := func(group, dev string, noTrack bool) {
		if group == "" || dev == "" || noTrack || !inGroup(group) {
			return
		}
		for _, l := range links {
			if l == dev {
				return
			}
		}
		links = append(links, dev)
	}
	for _, v := range c.StaticAddresses {
		add(v.TrackGroup, v.Dev, v.NoTrack)
	}
	for _, r := range c.StaticRoutes {
		add(r.TrackGroup, r.Dev, r.NoTrack)
	}
	for _, r := range c.StaticRules {
		add(r.TrackGroup, r.IIF, r.NoTrack)
	}
	return links
}
