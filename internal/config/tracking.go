package config

import (
	"strconv"
	"strings"
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
		// keepalived's set_value joins the words with spaces.
		tf.Path = strings.Join(k.ArgText(), " ")
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
		args := e.Args
		if len(args) > 0 {
			if args[0].Text != "weight" {
				b.d.Skipf(args[0].Pos, "%s: unknown track file option %q; the entry is ignored, as keepalived does", owner, args[0].Text)
				continue
			}
			if len(args) == 1 {
				b.d.Skipf(args[0].Pos, "%s: weight without value for track file %s; the entry is ignored, as keepalived does", owner, e.Key)
				continue
			}
			it.HasWeight = true
			w, err := strconv.Atoi(args[1].Text)
			if err != nil || w < -254 || w > 254 {
				b.d.Skipf(args[1].Pos, "%s: weight for track file %s must be -254..254; the file's weight %d is used, as keepalived does", owner, e.Key, tf.Weight)
				w, it.HasWeight = tf.Weight, false
			}
			it.Weight = w
			if len(args) > 2 {
				switch args[2].Text {
				case "reverse":
					it.WeightReverse = true
				case "noreverse":
					it.WeightReverse = false
				default:
					b.d.Skipf(args[2].Pos, "%s: unknown weight option %q for track file %s; the entry is ignored, as keepalived does", owner, args[2].Text, e.Key)
					continue
				}
			}
		}
		if e.HasBlock {
			b.d.Errorf(e.Pos(), "track_file entry %s cannot open a block", e.Key)
		}
		out = append(out, it)
	}
	return out
}
