package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// BFD: keepalived 2.2.7's bfd_instance blocks (bfd/bfd_parser.c), the
// track_bfd entries of vrrp_instance and vrrp_sync_group
// (vrrp/vrrp_track.c alloc_track_bfd) and BFD_CHECK (check/check_bfd.c).

// keepalived 2.2.7's bfd.h limits (milliseconds).
const (
	bfdMinRxMin, bfdMinTxMin, bfdIdleTxMin = 1, 1, 1000
	bfdIntervalMax                         = math.MaxUint32 / 1000
	bfdMaxSensible                         = 10000
	bfdNameMax                             = 32
)

// bfdBlock is a bfd_instance while it is read.
type bfdBlock struct {
	*BFDInstance
	maxHops int
	vrrp    bool // vrrp given
	checker bool // checker given
	skipped bool // a malformed neighbor_ip: keepalived skips the rest
}

// bfdInstance reads a bfd_instance block.
func (b *builder) bfdInstance(n *Node, c *Config) {
	name, ok := b.blockName(n, "bfd_instance")
	if !ok {
		return
	}
	if len(name) >= bfdNameMax {
		b.d.Skipf(n.Pos(), "BFD instance %s name too long (maximum length is %d characters) - ignoring, as keepalived does", name, bfdNameMax-1)
		return
	}
	if old := c.BFDInstance(name); old != nil {
		b.d.Skipf(n.Pos(), "BFD instance %s already configured at %s - ignoring, as keepalived does", name, old.Pos)
		return
	}
	bi := &bfdBlock{BFDInstance: &BFDInstance{Name: name, MinRx: 10000, MinTx: 10000, IdleTx: 1000000, Multiplier: 5, Pos: n.Pos()}}
	walk(b, n.Children, bfdTable, bi, "bfd_instance "+name)
	in := bi.BFDInstance
	in.VRRP = !bi.vrrp && !bi.checker || bi.vrrp
	in.Checker = !bi.vrrp && !bi.checker || bi.checker
	c.BFDInstances = append(c.BFDInstances, in)
	// bfd_end_handler: the bfd process's checks.
	switch {
	case bi.skipped:
		in.Disabled = true
		return
	case !in.Neighbor.IsValid():
		b.d.Skipf(n.Pos(), "BFD instance %s has no neighbor address set, disabling instance (as keepalived does; what tracks it sees it down)", name)
		in.Disabled = true
		return
	case in.Source.IsValid() && in.Source.Is4() != in.Neighbor.Is4():
		b.d.Skipf(n.Pos(), "BFD instance %s source address %s and neighbor address %s are not of the same family, disabling instance (as keepalived does)", name, in.Source, in.Neighbor)
		in.Disabled = true
		return
	}
	for _, o := range c.BFDInstances[:len(c.BFDInstances)-1] {
		if !o.Disabled && o.Neighbor == in.Neighbor && (!o.Source.IsValid() || !in.Source.IsValid() || o.Source == in.Source) {
			b.d.Skipf(n.Pos(), "BFD instance %s has duplicate neighbor address %s (instance %s), ignoring instance (as keepalived does)", name, in.Neighbor, o.Name)
			in.Disabled = true
			return
		}
	}
	if in.TTL == 0 {
		in.TTL = 255
		if in.Neighbor.Is6() {
			in.TTL = 64 // keepalived's BFD_CONTROL_HOPLIMIT
		}
	}
	// keepalived keeps max_hops in a uint8: -1 is 255.
	in.MaxHops = uint8(bi.maxHops)
	if in.MaxHops > in.TTL {
		b.d.Skipf(n.Pos(), "BFD instance %s: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit (%d), as keepalived does", name, in.TTL)
		in.MaxHops = in.TTL
	}
}

// bfdInterval reads min_rx/min_tx/idle_tx: milliseconds with up to three
// decimals (read_decimal_unsigned_strvec), kept in microseconds.
func bfdInterval(lo uint32, set func(*BFDInstance) *uint32) keyword[*bfdBlock] {
	return keyword[*bfdBlock]{handle: func(b *builder, n *Node, bi *bfdBlock) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "BFD instance %s %s needs a value; ignored, as keepalived does", bi.Name, n.Key)
			return
		}
		txt := n.Args[0].Text
		v, ok := decimalMilli(txt)
		if !ok || v < uint64(lo)*1000 || v > bfdIntervalMax*1000 {
			b.d.Skipf(n.Args[0].Pos, "BFD instance %s %s value %s is not valid (must be in range [%d-%d]), ignoring, as keepalived does", bi.Name, n.Key, txt, lo, bfdIntervalMax)
			return
		}
		*set(bi.BFDInstance) = uint32(v)
		if v > bfdMaxSensible*1000 {
			b.d.Warnf(n.Args[0].Pos, "BFD instance %s %s value %s is larger than max sensible (%d)", bi.Name, n.Key, txt, bfdMaxSensible)
		}
	}}
}

// decimalMilli parses "N[.ddd]" as thousandths.
func decimalMilli(s string) (uint64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(frac) > 3 || dot && frac == "" {
		return 0, false
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > math.MaxUint32 {
		return 0, false
	}
	f := uint64(0)
	if frac != "" {
		for len(frac) < 3 {
			frac += "0"
		}
		if f, err = strconv.ParseUint(frac, 10, 64); err != nil {
			return 0, false
		}
	}
	return w*1000 + f, true
}

func bfdIntArg(b *builder, n *Node, bi *bfdBlock, lo, hi int, what string) (int, bool) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "BFD instance %s %s needs a value; ignored, as keepalived does", bi.Name, n.Key)
		return 0, false
	}
	v, err := strconv.Atoi(n.Args[0].Text)
	if err != nil || v < lo || v > hi {
		b.d.Skipf(n.Args[0].Pos, "BFD instance %s %s value %s not valid (must be in range [%d-%d]), ignoring, as keepalived does", bi.Name, what, n.Args[0].Text, lo, hi)
		return 0, false
	}
	return v, true
}

func bfdNeighbor(b *builder, n *Node, bi *bfdBlock) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "BFD instance %s %s needs an address; ignored, as keepalived does", bi.Name, n.Key)
		return
	}
	a, err := netip.ParseAddr(n.Args[0].Text)
	if err != nil {
		word := strings.TrimSuffix(n.Key, "_ip")
		b.d.Skipf(n.Args[0].Pos, "BFD instance %s has malformed %s address %s, ignoring instance (as keepalived does)", bi.Name, word, n.Args[0].Text)
		bi.skipped = true
		return
	}
	bi.Neighbor = a.WithZone("")
}

// bfdTable is a bfd_instance block's keywords.
var bfdTable = table[*bfdBlock]{
	"neighbor_ip":  {handle: bfdNeighbor},
	"neighbour_ip": {handle: bfdNeighbor},
	"source_ip": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "BFD instance %s source_ip needs an address; ignored, as keepalived does", bi.Name)
			return
		}
		a, err := netip.ParseAddr(n.Args[0].Text)
		if err != nil {
			b.d.Skipf(n.Args[0].Pos, "BFD instance %s has malformed source address %s, ignoring (as keepalived does)", bi.Name, n.Args[0].Text)
			return
		}
		bi.Source = a.WithZone("")
	}},
	"min_rx":  bfdInterval(bfdMinRxMin, func(in *BFDInstance) *uint32 { return &in.MinRx }),
	"min_tx":  bfdInterval(bfdMinTxMin, func(in *BFDInstance) *uint32 { return &in.MinTx }),
	"idle_tx": bfdInterval(bfdIdleTxMin, func(in *BFDInstance) *uint32 { return &in.IdleTx }),
	"multiplier": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if v, ok := bfdIntArg(b, n, bi, 1, 255, "multiplier"); ok {
			bi.Multiplier = uint8(v)
		}
	}},
	"passive": {handle: func(b *builder, n *Node, bi *bfdBlock) { bi.Passive = true }},
	"ttl": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if v, ok := bfdIntArg(b, n, bi, 1, 255, "ttl/hoplimit"); ok {
			bi.TTL = uint8(v)
		}
	}},
	"hoplimit": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if v, ok := bfdIntArg(b, n, bi, 1, 255, "ttl/hoplimit"); ok {
			bi.TTL = uint8(v)
		}
	}},
	"max_hops": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if v, ok := bfdIntArg(b, n, bi, -1, 255, "max_hops"); ok {
			bi.maxHops = v
		}
	}},
	"weight": {handle: func(b *builder, n *Node, bi *bfdBlock) {
		if v, ok := bfdIntArg(b, n, bi, -253, 253, "weight"); ok {
			bi.Weight = v
		}
		if len(n.Args) >= 2 {
			if n.Args[1].Text == "reverse" {
				bi.WeightReverse = true
			} else {
				b.d.Skipf(n.Args[1].Pos, "BFD instance %s unknown weight option %s; ignored, as keepalived does", bi.Name, n.Args[1].Text)
			}
		}
	}},
	"vrrp":    {handle: func(b *builder, n *Node, bi *bfdBlock) { bi.vrrp = true }},
	"checker": {handle: func(b *builder, n *Node, bi *bfdBlock) { bi.checker = true }},
}

// trackBFDList reads a track_bfd block: NAME [weight N [reverse|noreverse]]
// entries, as keepalived 2.2.7's alloc_track_bfd: the bfd_instance must
// come before (and send to VRRP), an entry without a weight takes the
// instance's, faulty entries are left out.
func (b *builder) trackBFDList(n *Node, owner string, have []TrackItem) []TrackItem {
	out := have
	for _, e := range n.Children {
		bi := b.cfg.BFDInstance(e.Key)
		if bi == nil || !bi.VRRP {
			b.d.Skipf(e.Pos(), "(%s) track bfd %s not found (a bfd_instance block must come before what tracks it), ignoring, as keepalived does", owner, e.Key)
			continue
		}
		if e.HasBlock {
			b.d.Errorf(e.Pos(), "track_bfd entry %s cannot open a block", e.Key)
			continue
		}
		dup := false
		for _, t := range out {
			dup = dup || t.Name == e.Key
		}
		if dup {
			b.d.Skipf(e.Pos(), "(%s) duplicate track_bfd %s - ignoring, as keepalived does", owner, e.Key)
			continue
		}
		it := TrackItem{Name: e.Key, Weight: bi.Weight, WeightReverse: bi.WeightReverse, Pos: e.Pos()}
		args := e.Args
		if len(args) > 0 {
			if args[0].Text != "weight" {
				b.d.Skipf(args[0].Pos, "(%s) unknown track bfd %s option %s - ignoring, as keepalived does", owner, e.Key, args[0].Text)
				continue
			}
			if len(args) == 1 {
				b.d.Skipf(args[0].Pos, "(%s) weight without value specified for track bfd %s - ignoring, as keepalived does", owner, e.Key)
				continue
			}
			if w, err := strconv.Atoi(args[1].Text); err != nil || w < -253 || w > 253 {
				b.d.Skipf(args[1].Pos, "(%s) weight for track bfd %s must be in [-253..253] inclusive; the bfd_instance's weight %d is used, as keepalived does", owner, e.Key, bi.Weight)
			} else {
				it.Weight, it.HasWeight = w, true
			}
			if len(args) >= 3 {
				switch args[2].Text {
				case "reverse":
					it.WeightReverse = true
				case "noreverse":
					it.WeightReverse = false
				default:
					b.d.Skipf(args[2].Pos, "(%s) unknown track bfd %s weight option %s - ignoring, as keepalived does", owner, e.Key, args[2].Text)
					continue
				}
			}
		}
		out = append(out, it)
	}
	return out
}

// bfdCheck reads a BFD_CHECK block (check_bfd.c): name NAME [alpha].
func (b *builder) bfdCheck(n *Node, rs *RealServer) {
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "BFD_CHECK needs a { ... } block")
		return
	}
	c := &Checker{Type: CheckBFD, Pos: n.Pos(), Ext: &CheckerExtra{}}
	var own checkDefaults
	failed := false
	for _, k := range n.Children {
		switch k.Key {
		case "name":
			if failed {
				continue
			}
			var why string
			switch bi := b.cfg.BFDInstance(argText(k)); {
			case len(k.Args) != 1:
				why = "No or too many names specified - skipping checker"
			case bi == nil || !bi.Checker:
				why = "BFD " + k.Args[0].Text + " not configured"
			case c.Ext.BFD != "":
				why = "BFD " + k.Args[0].Text + " already specified as " + c.Ext.BFD
			}
			if why == "" {
				for _, o := range rs.Checkers {
					if o.Type == CheckBFD && o.Extra().BFD == k.Args[0].Text {
						why = "RS already monitoring " + o.Extra().BFD
					}
				}
			}
			if why != "" {
				b.d.Skipf(k.Pos(), "BFD_CHECK - %s; the checker is skipped, as keepalived skips it", why)
				failed = true
				continue
			}
			c.Ext.BFD = k.Args[0].Text
			c.Ext.BFDSilent = b.cfg.BFDInstance(c.Ext.BFD).Disabled
		case "alpha":
			v, ok := b.boolArg(k)
			if ok {
				own.putAlpha(v)
			}
		default:
			b.unknown(k, func() []string { return []string{"alpha", "name"} }, "BFD_CHECK")
		}
	}
	if failed {
		return
	}
	if c.Ext.BFD == "" {
		b.d.Skipf(n.Pos(), "No name has been specified for BFD_CHECKER - skipping, as keepalived does")
		return
	}
	// keepalived acts on the bfd process's events at once; lvsd's checker
	// reads the session's state every 50 ms (internal/check).
	c.DelayLoop, c.DelayBeforeRetry, c.ConnectTimeout = BFDCheckPoll, BFDCheckPoll, BFDCheckPoll
	// alpha: its own, else its real server's (resolveVirtualServer), as
	// keepalived's checker->alpha.
	rs.Checkers = append(rs.Checkers, c)
	b.resolveLater(c, rs, own, inheritAlpha)
}

func argText(n *Node) string {
	if len(n.Args) == 0 {
		return ""
	}
	return n.Args[0].Text
}

// dropWeightedBFDs: the address owner, and a sync group member without
// sync_group_tracking_weight, drop their weighted track_bfd entries
// (keepalived 2.2.7 vrrp_complete_instance); why says which.
func dropWeightedBFDs(in *Instance, why string, d *Diagnostics) []TrackItem {
	var out []TrackItem
	for _, t := range in.TrackBFDs {
		if t.Weight != 0 {
			d.Skipf(t.Pos, "(%s) ignoring tracked bfd %s with weight %d because %s, as keepalived does", in.Name, t.Name, t.Weight, why)
			continue
		}
		out = append(out, t)
	}
	return out
}

// zeroGroupBFDWeights: a sync group with a member of priority 255 runs its
// weighted track_bfd entries unweighted (keepalived 2.2.7
// vrrp_complete_init: "Cannot have weighted track bfd ... setting weight 0").
func zeroGroupBFDWeights(g *SyncGroup, d *Diagnostics) {
	for i, t := range g.TrackBFDs {
		if t.Weight != 0 {
			d.Skipf(t.Pos, "(%s) Cannot have weighted track bfd '%s' with member having priority 255 - setting weight 0, as keepalived does", g.Name, t.Name)
			g.TrackBFDs[i].Weight = 0
		}
	}
}
