package config

import "net/netip"

// BFDInstance is a bfd_instance block. Intervals are in microseconds, as
// keepalived keeps them (the configuration gives milliseconds with up to
// three decimals).
type BFDInstance struct {
	Name     string     `json:"name"`
	Neighbor netip.Addr `json:"neighbor_ip"`
	Source   netip.Addr `json:"source_ip,omitempty"`
	MinRx    uint32     `json:"min_rx_us"`
	MinTx    uint32     `json:"min_tx_us"`
	IdleTx   uint32     `json:"idle_tx_us"`
	// Multiplier is the detection multiplier (5 by default).
	Multiplier uint8 `json:"multiplier"`
	Passive    bool  `json:"passive,omitempty"`
	// TTL is sent (ttl/hoplimit; 255 for IPv4 and 64 for IPv6 by
	// default); a received packet's must be at least TTL-MaxHops
	// (MaxHops 255, max_hops -1, checks nothing).
	TTL     uint8 `json:"ttl"`
	MaxHops uint8 `json:"max_hops"`
	// Weight and WeightReverse are the block's weight, the default of
	// the track_bfd entries naming it.
	Weight        int  `json:"weight,omitempty"`
	WeightReverse bool `json:"weight_reverse,omitempty"`
	// VRRP and Checker: which of keepalived's processes get the
	// session's events (both unless vrrp or checker is given); a
	// track_bfd finds only a VRRP one, a BFD_CHECK only a Checker one.
	VRRP    bool `json:"vrrp"`
	Checker bool `json:"checker"`
	// Disabled: keepalived's bfd process leaves the instance out (no or
	// malformed neighbor_ip, source of another family, a duplicate
	// address), while its VRRP and checker processes still know the
	// name: what tracks it sees it Down for ever.
	Disabled bool `json:"disabled,omitempty"`
	Pos      Pos  `json:"pos"`
}

// BFDInstance is the bfd_instance called name (nil if none).
func (c *Config) BFDInstance(name string) *BFDInstance {
	if c == nil {
		return nil
	}
	for _, in := range c.BFDInstances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// ActiveBFDInstances are the instances lvsd runs sessions for.
func (c *Config) ActiveBFDInstances() []*BFDInstance {
	var out []*BFDInstance
	for _, in := range c.BFDInstances {
		if !in.Disabled {
			out = append(out, in)
		}
	}
	return out
}
