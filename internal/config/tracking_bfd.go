package config

import "time"

// BFDCheckPoll is how often a BFD_CHECK reads its session's state.
const BFDCheckPoll = 50 * time.Millisecond

// The BFD keywords' handlers (bfd.go), registered here: this file's init
// runs after build.go's, build_vrrp.go's and build_vs.go's, which fill
// the tables.
func init() {
	topTable["bfd_instance"] = keyword[*Config]{handle: (*builder).bfdInstance}
	instanceTable["track_bfd"] = keyword[*Instance]{handle: func(b *builder, n *Node, in *Instance) {
		in.TrackBFDs = b.trackBFDList(n, in.Name, in.TrackBFDs)
	}}
	syncGroupTable["track_bfd"] = keyword[*SyncGroup]{handle: func(b *builder, n *Node, g *SyncGroup) {
		g.TrackBFDs = b.trackBFDList(n, g.Name, g.TrackBFDs)
	}}
	rsTable["BFD_CHECK"] = keyword[*RealServer]{handle: (*builder).bfdCheck}
}
