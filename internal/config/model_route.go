package config

import "net/netip"

// Route is one entry of virtual_routes or static_routes, as keepalived
// 2.2.7's alloc_route reads it (the subset lvsd installs; see routes.go).
type Route struct {
	// Family is 4 or 6.
	Family int          `json:"family"`
	Dst    netip.Prefix `json:"dst"`
	// Type is the route type (unicast unless given: blackhole,
	// unreachable, prohibit, local, broadcast, anycast, multicast, throw,
	// nat, xresolve), as the kernel numbers them (RTN_*).
	Type     int        `json:"type"`
	Src      netip.Addr `json:"src,omitzero"`
	Via      netip.Addr `json:"via,omitzero"`
	Dev      string     `json:"dev,omitempty"`
	Table    int        `json:"table"`              // RT_TABLE_MAIN (254) unless given
	Protocol int        `json:"protocol"`           // RTPROT_KEEPALIVED (18) unless given
	Scope    int        `json:"scope"`              // -1: not given (keepalived adds with universe, deletes with nowhere)
	Metric   int        `json:"metric,omitempty"`   // metric/priority/preference
	HasTOS   bool       `json:"-"`                  //
	TOS      int        `json:"tos,omitempty"`      // tos/dsfield
	OnLink   bool       `json:"onlink,omitempty"`   //
	MTU      int        `json:"mtu,omitempty"`      //
	AdvMSS   int        `json:"advmss,omitempty"`   //
	HopLimit int        `json:"hoplimit,omitempty"` //
	// Mode is how the route is added: "" (prepend, keepalived's default:
	// NLM_F_CREATE), "add" (NLM_F_EXCL) or "append".
	Mode    string `json:"mode,omitempty"`
	NoTrack bool   `json:"no_track,omitempty"`
	// TrackGroup is a static route's track_group (model_track.go).
	TrackGroup string `json:"track_group,omitempty"`
	Text       string `json:"text"` // the line as written, for logs
	Pos        Pos    `json:"pos"`
}

// Rule is one entry of virtual_rules or static_rules, as keepalived
// 2.2.7's alloc_rule reads it (the subset lvsd installs).
type Rule struct {
	Family int          `json:"family"`
	From   netip.Prefix `json:"from,omitzero"`
	To     netip.Prefix `json:"to,omitzero"`
	// Action is "table", "goto", "nop", "blackhole", "unreachable" or
	// "prohibit"; Table the table of "table" (0 means main).
	Action   string `json:"action"`
	Table    int    `json:"table,omitempty"`
	Goto     int    `json:"goto,omitempty"`
	Priority int    `json:"priority"`
	// PriorityGiven is false when keepalived numbered the rule itself
	// (16384 down, per family, in configuration order).
	PriorityGiven bool   `json:"-"`
	TOS           int    `json:"tos,omitempty"`
	Mark          int64  `json:"fwmark,omitempty"` // -1: none
	Mask          int64  `json:"fwmask,omitempty"` // -1: none
	IIF           string `json:"iif,omitempty"`
	OIF           string `json:"oif,omitempty"`
	Invert        bool   `json:"not,omitempty"`
	// SuppressPrefixLen is suppress_prefixlength (-1: none).
	SuppressPrefixLen int  `json:"suppress_prefixlength"`
	Protocol          int  `json:"protocol"` // RTPROT_KEEPALIVED unless no_track
	NoTrack           bool `json:"no_track,omitempty"`
	// TrackGroup is a static rule's track_group (model_track.go).
	TrackGroup string `json:"track_group,omitempty"`
	Text       string `json:"text"`
	Pos        Pos    `json:"pos"`
}
