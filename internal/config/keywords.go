package config

// The keyword table: how lvsd treats every keyword keepalived 2.2.7 knows.
//
// testdata/keywords/keepalived-2.2.7.tsv is keepalived's own table,
// extracted from its source by scripts/keywords (and checked against the
// installed keepalived by its -verify mode). keywordTables maps keepalived's
// block paths onto lvsd's parser tables; keywords_test.go fails when a
// keyword keepalived knows is neither handled (with a behaviour test) nor
// warned, when lvsd's tables hold a keyword keepalived does not know, and
// when docs/compatibility.md's "Keywords" section no longer matches.
//
// The init below gives every keyword keepalived knows and lvsd has in no
// table an `ignored` entry, so walk warns about it by name ("X in BLOCK is
// not supported by lvsd (REASON); ignored") instead of failing on an
// unknown keyword. It only adds where no entry exists: Go runs a package's
// init functions in file-name order, so the tables filled by build*.go's
// init functions are complete here, and a handler added there always wins.

// kwInfo is how one lvsd table treats one keyword.
type kwInfo struct {
	// ignored is the reason shown when lvsd accepts the keyword with a
	// warning and does not act on it; "" when a handler implements it.
	ignored string
	// deprecated names the modern spelling, for keywords handled under an
	// old name.
	deprecated string
}

// handledSet is a read-only view of one parser table.
type handledSet map[string]kwInfo

func tableSet[T any](t table[T]) handledSet {
	out := make(handledSet, len(t))
	for k, kw := range t {
		out[k] = kwInfo{ignored: kw.ignored, deprecated: kw.deprecated}
	}
	return out
}

// checkerPaths are keepalived's checker blocks lvsd parses with
// checkerTable (TCP_CHECK and MISC_CHECK have their own).
var checkerPaths = []string{
	"virtual_server/real_server/HTTP_GET",
	"virtual_server/real_server/SSL_GET",
}

// keywordTables maps each keepalived block path (as in the extracted
// table: "/" is the top level) that lvsd parses with a table to that
// table's keywords. A block missing here is either skipped whole with a
// warning (its opening keyword is ignored in the parent's table) or is a
// free-form block of values (virtual_ipaddress, unicast_peer...).
func keywordTables() map[string]handledSet {
	m := map[string]handledSet{
		"/":                                     tableSet(topTable),
		"global_defs":                           tableSet(globalTable),
		"vrrp_script":                           tableSet(scriptTable),
		"vrrp_sync_group":                       tableSet(syncGroupTable),
		"vrrp_instance":                         tableSet(instanceTable),
		"vrrp_instance/authentication":          tableSet(authTable),
		"virtual_server":                        tableSet(vsTable),
		"virtual_server/real_server":            tableSet(rsTable),
		"virtual_server/real_server/MISC_CHECK": tableSet(miscTable),
		"virtual_server/real_server/TCP_CHECK":  tableSet(tcpCheckerTable),
		"virtual_server/real_server/DNS_CHECK":  tableSet(dnsTable),
		"virtual_server/real_server/UDP_CHECK":  tableSet(udpTable),
		"virtual_server/real_server/PING_CHECK": tableSet(pingTable),
		"virtual_server/real_server/FILE_CHECK": tableSet(fileCheckTable),
		"virtual_server/real_server/SMTP_CHECK": tableSet(smtpTable),
		// SMTP_CHECK's host block: its connection keywords, the other
		// common ones setting the checker (builder.smtpHost)
		"virtual_server/real_server/SMTP_CHECK/host": tableSet(smtpHostKeywords()),
		"track_file":         tableSet(trackFileTable),
		"track_group":        tableSet(trackGroupTable),
		"vrrp_track_file":    tableSet(trackFileTable),
		"vrrp_track_process": tableSet(trackProcessTable),
		"bfd_instance":       tableSet(bfdTable),
		// BFD_CHECK is read by builder.bfdCheck: name and alpha.
		"virtual_server/real_server/BFD_CHECK": {"name": {}, "alpha": {}},
	}
	// The top-level SSL block is read by builder.sslContext, not a table.
	m["SSL"] = handledSet{"password": {}, "ca": {}, "certificate": {}, "key": {}}
	for _, p := range checkerPaths {
		m[p] = tableSet(checkerTable)
		m[p+"/url"] = tableSet(urlTable)
	}
	return m
}

// ignore adds an ignored entry for each keyword the table lacks.
func ignore[T any](t table[T], reason string, kws ...string) {
	for _, k := range kws {
		if _, ok := t[k]; !ok {
			t[k] = keyword[T]{ignored: reason}
		}
	}
}

func init() {
	// global_defs: spellings keepalived 2.2.7 keeps for old configs, with the
	// reason lvsd gives for their modern form.
	ignore(globalTable, "lvsd is one process; scheduling is left to systemd",
		"lvs_process_name", "vrrp_rlimit_rtime", "checker_rlimit_rtime", "bfd_rlimit_rtime")
	ignore(globalTable, "VMAC interfaces are not implemented yet", "vrrp_vmac_garp_intvl")

	ignore(instanceTable, "VMAC interfaces are not implemented yet", "vmac_garp_intvl")
}
