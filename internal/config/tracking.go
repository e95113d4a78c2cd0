package config

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Top-level tracker blocks: track_file (vrrp_track_file) as keepalived
// 2.2.7's trackers/track_file.c parses them. This file's init runs after
// build.go's (file order), which fills topTable.
func init() {
	topTable["track_file"] = keyword[*Config]{handle: (*builder).trackFileBlock}
	topTable["vrrp_track_file"] = keyword[*Config]{handle: func(b *builder, n *Node, c *Config) {
		// keepalived logs "vrrp_track_file is deprecated, please use track_file".
		b.d.Warnf(n.Pos(), "vrrp_track_file is deprecated; use track_file")
		b.trackFileBlock(n, c)
	}}
	topTable["vrrp_track_process"] = keyword[*Config]{handle: (*builder).trackProcessBlock}
	topTable["static_ipaddress"] = keyword[*Config]{handle: (*builder).staticAddresses}
	topTable["static_routes"] = keyword[*Config]{handle: func(b *builder, n *Node, c *Config) {
		c.StaticRoutes = append(c.StaticRoutes, b.routeEntries(n, "static_routes")...)
	}}
	topTable["static_rules"] = keyword[*Config]{handle: func(b *builder, n *Node, c *Config) {
		c.StaticRules = append(c.StaticRules, b.ruleEntries(n, "static_rules")...)
	}}
	topTable["track_group"] = keyword[*Config]{handle: (*builder).trackGroupBlock}
}

// trackFileBlock reads track_file NAME { file PATH; weight N [reverse];
// init_file [VALUE] [overwrite] }. Like keepalived, a block without file is
// left out (a skipped error) and what names it later tracks nothing.
func (b *builder) trackFileBlock(n *Node, c *Config) {
	name, ok := b.blockName(n, n.Key)
	if !ok {
		return
	}
	tf := &TrackFile{Name: name, Weight: 1, Pos: n.Pos()}
	walk(b, n.Children, trackFileTable, tf, n.Key+" "+name)
	if tf.Path == "" {
		b.d.Skipf(n.Pos(), "track file %s has no file; it is left out, as keepalived does, with every entry tracking it", name)
		return
	}
	if c.TrackFiles == nil {
		c.TrackFiles = map[string]*TrackFile{}
	}
	if old, dup := c.TrackFiles[name]; dup {
		// keepalived keeps both and every lookup finds the first.
		b.d.Warnf(n.Pos(), "track file %s is already defined at %s; this block is not used, as keepalived uses the first", name, old.Pos)
		return
	}
	c.TrackFiles[name] = tf
}

// trackFileTable is a track_file block's keywords.
var trackFileTable = table[*TrackFile]{
	"file": {handle: func(b *builder, k *Node, tf *TrackFile) {
		if len(k.Args) == 0 {
			b.d.Skipf(k.Pos(), "track file %s: file needs a path; ignored, as keepalived does", tf.Name)
			return
		}
		if tf.Path != "" {
			b.d.Skipf(k.Pos(), "track file %s: file already set; %q is ignored, as keepalived does", tf.Name, k.Args[0].Text)
			return
		}
		// keepalived's set_value takes the first word; the rest is ignored.
		tf.Path = k.Args[0].Text
	}},
	"weight": {handle: func(b *builder, k *Node, tf *TrackFile) {
		if len(k.Args) == 0 {
			b.d.Skipf(k.Pos(), "track file %s: weight needs a value; ignored, as keepalived does", tf.Name)
			return
		}
		if tf.Weight != 1 {
			// keepalived's test: a weight other than the default 1 is set.
			b.d.Skipf(k.Pos(), "track file %s: weight already set; %q is ignored, as keepalived does", tf.Name, k.Args[0].Text)
			return
		}
		w, err := strconv.Atoi(k.Args[0].Text)
		if err != nil || w < -254 || w > 254 {
			b.d.Skipf(k.Args[0].Pos, "track file %s: weight %q is not -254..254; 1 is used, as keepalived does", tf.Name, k.Args[0].Text)
			w = 1
		}
		tf.Weight = w
		if len(k.Args) > 1 {
			if k.Args[1].Text == "reverse" {
				tf.WeightReverse = true
			} else {
				b.d.Skipf(k.Args[1].Pos, "track file %s: unknown weight option %q; ignored, as keepalived does", tf.Name, k.Args[1].Text)
			}
		}
	}},
	"init_file": {handle: func(b *builder, k *Node, tf *TrackFile) {
		tf.Init, tf.InitValue = TrackFileCreate, 0
		for _, a := range k.Args {
			w := a.Text
			switch {
			case w != "" && (w[0] == '-' || w[0] >= '0' && w[0] <= '9'):
				v, err := strconv.ParseInt(w, 10, 32)
				if err != nil {
					b.d.Skipf(a.Pos, "track file %s: init value %q is not an integer; 0 is used, as keepalived does", tf.Name, w)
					v = 0
				} else if v < -254 || v > 254 {
					b.d.Skipf(a.Pos, "track file %s: init value %d is outside the sensible range -254..254 (kept, as keepalived keeps it)", tf.Name, v)
				}
				tf.InitValue = int(v)
			case w == "overwrite":
				tf.Init = TrackFileOverwrite
			default:
				b.d.Skipf(a.Pos, "track file %s: unknown init_file option %q; ignored, as keepalived does", tf.Name, w)
			}
		}
	}},
}

// trackFileList reads the track_file { NAME [weight N [reverse|noreverse]] }
// block of a vrrp_instance or vrrp_sync_group, as keepalived 2.2.7's
// vrrp_alloc_track_file: the file must be defined above (keepalived looks
// it up while parsing), an entry without a weight takes the file's, and
// faulty entries are left out.
func (b *builder) trackFileList(n *Node, owner string, have []TrackItem) []TrackItem {
	out := have
	for _, e := range n.Children {
		tf := b.cfg.TrackFiles[e.Key]
		if tf == nil {
			b.d.Skipf(e.Pos(), "%s: track file %s not found (a track_file block must come before what tracks it); ignored, as keepalived does", owner, e.Key)
			continue
		}
		dup := false
		for _, t := range out {
			if t.Name == e.Key {
				dup = true
			}
		}
		if dup {
			b.d.Skipf(e.Pos(), "%s: duplicate track_file %s; ignored, as keepalived does", owner, e.Key)
			continue
		}
		it := TrackItem{Name: e.Key, Weight: tf.Weight, WeightReverse: tf.WeightReverse, Pos: e.Pos()}
		if !b.trackEntryWeight(&it, e, owner, "track file", "file", true) {
			continue
		}
		if e.HasBlock {
			b.d.Errorf(e.Pos(), "track_file entry %s cannot open a block", e.Key)
		}
		out = append(out, it)
	}
	return out
}

// vrrp_track_process NAME { process ...; param_match ...; weight ...;
// quorum; quorum_max; delay; terminate_delay; fork_delay; full_command },
// as keepalived 2.2.7's vrrp_tprocess_*_handler parse them.
func (b *builder) trackProcessBlock(n *Node, c *Config) {
	name, ok := b.blockName(n, n.Key)
	if !ok {
		return
	}
	tp := &TrackProcess{Name: name, Quorum: 1, QuorumMax: math.MaxUint32, Pos: n.Pos()}
	walk(b, n.Children, trackProcessTable, tp, "vrrp_track_process "+name)
	if tp.Process == "" {
		b.d.Skipf(n.Pos(), "vrrp_track_process %s: process name not specified; the block is left out, as keepalived does, with every entry tracking it", name)
		return
	}
	if c.TrackProcesses == nil {
		c.TrackProcesses = map[string]*TrackProcess{}
	}
	if old, dup := c.TrackProcesses[name]; dup {
		b.d.Warnf(n.Pos(), "vrrp_track_process %s is already defined at %s; this block is not used, as keepalived uses the first", name, old.Pos)
		return
	}
	c.TrackProcesses[name] = tp
}

func processDelay(fork, term bool) keyword[*TrackProcess] {
	return keyword[*TrackProcess]{handle: func(b *builder, k *Node, tp *TrackProcess) {
		if len(k.Args) == 0 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: %s needs a value; ignored, as keepalived does", tp.Name, k.Key)
			return
		}
		f, err := strconv.ParseFloat(k.Args[0].Text, 64)
		if err != nil || math.IsNaN(f) || f < 0.000001 || f > 3600 {
			b.d.Skipf(k.Args[0].Pos, "vrrp_track_process %s: %s %q must be 0.000001..3600 seconds; ignored, as keepalived does", tp.Name, k.Key, k.Args[0].Text)
			return
		}
		d := time.Duration(math.Round(f*1e6)) * time.Microsecond
		if fork {
			tp.ForkDelay = d
		}
		if term {
			tp.TerminateDelay = d
		}
	}}
}

var trackProcessTable = table[*TrackProcess]{
	"process": {handle: func(b *builder, k *Node, tp *TrackProcess) {
		if len(k.Args) == 0 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: process needs a name; ignored", tp.Name)
			return
		}
		if tp.Process != "" {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: process already set; %q is ignored, as keepalived does", tp.Name, k.Args[0].Text)
			return
		}
		tp.Process = k.Args[0].Text
		if len(k.Args) > 1 {
			tp.Params = k.ArgText()[1:]
			if tp.ParamMatch == ParamMatchNone {
				tp.ParamMatch = ParamMatchExact
			}
			tp.FullCommand = true
		}
	}},
	"param_match": {handle: func(b *builder, k *Node, tp *TrackProcess) {
		switch {
		case len(k.Args) == 0:
			tp.ParamMatch, tp.FullCommand = ParamMatchExact, true
		case k.Args[0].Text == "initial":
			tp.ParamMatch, tp.FullCommand = ParamMatchInitial, true
		case k.Args[0].Text == "partial":
			tp.ParamMatch, tp.FullCommand = ParamMatchPartial, true
		default:
			b.d.Skipf(k.Args[0].Pos, "vrrp_track_process %s: invalid param_match type %q; ignored, as keepalived does", tp.Name, k.Args[0].Text)
		}
	}},
	"weight": {handle: func(b *builder, k *Node, tp *TrackProcess) {
		if len(k.Args) == 0 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: no weight specified; ignored, as keepalived does", tp.Name)
			return
		}
		if tp.Weight != 0 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: weight already set; %q is ignored, as keepalived does", tp.Name, k.Args[0].Text)
			return
		}
		w, err := strconv.Atoi(k.Args[0].Text)
		if err != nil || w < -254 || w > 254 {
			b.d.Skipf(k.Args[0].Pos, "vrrp_track_process %s: weight %q must be -254..254; ignored, as keepalived does", tp.Name, k.Args[0].Text)
			return
		}
		if len(k.Args) > 1 {
			if k.Args[1].Text == "reverse" {
				tp.WeightReverse = true
			} else {
				b.d.Skipf(k.Args[1].Pos, "vrrp_track_process %s: unknown weight option %q; ignored, as keepalived does", tp.Name, k.Args[1].Text)
			}
		}
		tp.Weight = w
	}},
	"quorum": {handle: func(b *builder, k *Node, tp *TrackProcess) {
		q, err := strconv.Atoi(argOr(k, ""))
		if err != nil || q < 1 || q > 65535 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: quorum %q must be 1..65535; ignored, as keepalived does", tp.Name, argOr(k, ""))
			return
		}
		if int64(q) > tp.QuorumMax {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: quorum is greater than quorum_max; ignored, as keepalived does", tp.Name)
			return
		}
		tp.Quorum = q
	}},
	"quorum_max": {handle: func(b *builder, k *Node, tp *TrackProcess) {
		q, err := strconv.Atoi(argOr(k, ""))
		if err != nil || q < 0 || q > 65535 {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: quorum_max %q must be 0..65535; ignored, as keepalived does", tp.Name, argOr(k, ""))
			return
		}
		if (q != 0 || tp.Quorum > 1) && q < tp.Quorum {
			b.d.Skipf(k.Pos(), "vrrp_track_process %s: quorum_max is less than quorum; ignored, as keepalived does", tp.Name)
			return
		}
		tp.QuorumMax = int64(q)
		if q == 0 {
			tp.Quorum = 0
		} else if tp.Quorum == 0 {
			tp.Quorum = 1
		}
	}},
	"delay":           processDelay(true, true),
	"terminate_delay": processDelay(false, true),
	"fork_delay":      processDelay(true, false),
	"full_command":    {handle: func(b *builder, k *Node, tp *TrackProcess) { tp.FullCommand = true }},
}

func argOr(k *Node, def string) string {
	if len(k.Args) == 0 {
		return def
	}
	return k.Args[0].Text
}

// trackProcessList reads track_process { NAME [weight N [reverse|noreverse]] }
// as keepalived 2.2.7's alloc_track_process: like track_file entries,
// except that an unknown weight option keeps the entry.
func (b *builder) trackProcessList(n *Node, owner string, have []TrackItem) []TrackItem {
	out := have
	for _, e := range n.Children {
		tp := b.cfg.TrackProcesses[e.Key]
		if tp == nil {
			b.d.Skipf(e.Pos(), "%s: track process %s not found (a vrrp_track_process block must come before what tracks it); ignored, as keepalived does", owner, e.Key)
			continue
		}
		if slices.ContainsFunc(out, func(t TrackItem) bool { return t.Name == e.Key }) {
			b.d.Skipf(e.Pos(), "%s: duplicate track_process %s; ignored, as keepalived does", owner, e.Key)
			continue
		}
		it := TrackItem{Name: e.Key, Weight: tp.Weight, WeightReverse: tp.WeightReverse, Pos: e.Pos()}
		if !b.trackEntryWeight(&it, e, owner, "track process", "block", false) {
			continue
		}
		if e.HasBlock {
			b.d.Errorf(e.Pos(), "track_process entry %s cannot open a block", e.Key)
		}
		out = append(out, it)
	}
	return out
}

// trackEntryWeight reads a track entry's "weight W [reverse|noreverse]"
// into it, whose Weight and WeightReverse hold the tracked block's own.
// kind names what is tracked ("track file"), source where the default
// weight comes from ("file", "block"). It reports false when keepalived
// drops the entry. An unknown option after the weight drops the entry when
// dropOnUnknownOption (keepalived's track_file does; its track_process
// logs it and keeps the entry).
func (b *builder) trackEntryWeight(it *TrackItem, e *Node, owner, kind, source string, dropOnUnknownOption bool) bool {
	args := e.Args
	if len(args) == 0 {
		return true
	}
	if args[0].Text != "weight" {
		b.d.Skipf(args[0].Pos, "%s: unknown %s option %q; the entry is ignored, as keepalived does", owner, kind, args[0].Text)
		return false
	}
	if len(args) == 1 {
		b.d.Skipf(args[0].Pos, "%s: weight without value for %s %s; the entry is ignored, as keepalived does", owner, kind, e.Key)
		return false
	}
	blockWeight := it.Weight
	it.HasWeight = true
	w, err := strconv.Atoi(args[1].Text)
	if err != nil || w < -254 || w > 254 {
		b.d.Skipf(args[1].Pos, "%s: weight for %s %s must be -254..254; the %s's weight %d is used, as keepalived does", owner, kind, e.Key, source, blockWeight)
		w, it.HasWeight = blockWeight, false
	}
	it.Weight = w
	if len(args) > 2 {
		switch args[2].Text {
		case "reverse":
			it.WeightReverse = true
		case "noreverse":
			it.WeightReverse = false
		default:
			if dropOnUnknownOption {
				b.d.Skipf(args[2].Pos, "%s: unknown weight option %q for %s %s; the entry is ignored, as keepalived does", owner, args[2].Text, kind, e.Key)
				return false
			}
			b.d.Skipf(args[2].Pos, "%s: unknown weight option %q for %s %s; ignored, as keepalived does", owner, args[2].Text, kind, e.Key)
		}
	}
	return true
}

// trackGroupBlock reads track_group NAME { group { VI_1 VI_2 } }, as
// vrrp_parser.c's static_track_group_handler: a block without exactly
// one name, or with a name already defined, is skipped whole.
func (b *builder) trackGroupBlock(n *Node, c *Config) {
	if len(n.Args) != 1 {
		b.d.Skipf(n.Pos(), "track_group must have a name; the block is skipped, as keepalived skips it")
		return
	}
	name := n.Args[0].Text
	if _, dup := c.TrackGroups[name]; dup {
		b.d.Skipf(n.Pos(), "track_group %s already defined; this block is skipped, as keepalived skips it", name)
		return
	}
	g := &TrackGroup{Name: name, Pos: n.Pos()}
	if c.TrackGroups == nil {
		c.TrackGroups = map[string]*TrackGroup{}
	}
	c.TrackGroups[name] = g
	walk(b, n.Children, trackGroupTable, g, "track_group "+name)
	if g.Members == nil {
		b.d.Warnf(n.Pos(), "track_group %s has no group of VRRP instances; it tracks nothing", name)
	}
}

var trackGroupTable = map[string]keyword[*TrackGroup]{
	"group": {handle: func(b *builder, n *Node, g *TrackGroup) {
		if g.Members != nil {
			b.d.Skipf(n.Pos(), "track_group %s: group list already specified; ignored, as keepalived does", g.Name)
			return
		}
		g.Members = []string{}
		// read_value_block: every word of every line.
		for _, m := range n.Children {
			g.Members = append(g.Members, m.Key)
			for _, a := range m.Args {
				g.Members = append(g.Members, a.Text)
			}
		}
		if len(g.Members) == 0 {
			b.d.Skipf(n.Pos(), "track_group %s has an empty group block", g.Name)
		}
	}},
}

// staticTrackGroup sets a static address's, route's or rule's track_group
// (vrrp_ipaddress.c, vrrp_iproute.c, vrrp_iprule.c): the group must be
// defined above it, and only one may be given.
func (b *builder) staticTrackGroup(name Token, dst *string) {
	switch {
	case *dst != "":
		b.d.Skipf(name.Pos, "track_group %s is a duplicate; ignored, as keepalived does", name.Text)
	case b.cfg.TrackGroups[name.Text] == nil:
		b.d.Skipf(name.Pos, "track_group %s not found (a track_group block must come before what names it); ignored, as keepalived does", name.Text)
	default:
		*dst = name.Text
	}
}
