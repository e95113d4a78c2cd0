package config

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
