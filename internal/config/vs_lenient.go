package config

import "sync"

// Keywords of virtual_server, real_server and the checkers whose invalid
// values keepalived 2.2.7 reports and ignores, keeping its default
// (check_parser.c and check_api.c: "report_config_error(...); return;"
// before the value is stored; keepalived -t fails, keepalived runs). Their
// errors are skipped errors here too: check-config fails, lvsd run logs
// them and runs with the default, which the handlers leave in place on a
// bad value. Measured with keepalived -t on each (TestVSInvalidValuesAreSkipped,
// testdata/acceptance/vs_bad_values.conf).
//
// Not here: the virtual_server and real_server addresses and ports
// (keepalived skips the whole service or real server; lvsd still refuses
// to start), and the block structure.
var (
	lenientVS = []string{"delay_loop", "persistence_timeout", "quorum", "hysteresis", "connect_timeout", "retry",
		"warmup", "delay_before_retry", "sorry_server"}
	lenientRS = []string{"weight", "uthreshold", "lthreshold", "connect_timeout", "delay_loop", "retry", "warmup",
		"delay_before_retry"}
	// TCP_CHECK, HTTP_GET and SSL_GET (check_api.c's connection keywords
	// and install_checker_common_keywords)
	lenientChecker = []string{"connect_ip", "connect_port", "bindto", "bind_port", "fwmark", "connect_timeout",
		"delay_loop", "retry", "warmup", "delay_before_retry"}
	lenientMisc = []string{"delay_loop", "retry", "warmup", "delay_before_retry", "misc_timeout"}
)

// This init runs after build_vs.go's, which fills the tables (Go runs a
// package's init functions in file-name order).
func init() {
	for _, k := range lenientVS {
		vsTable[k] = lenient(mustKeyword(vsTable, k))
	}
	for _, k := range lenientRS {
		rsTable[k] = lenient(mustKeyword(rsTable, k))
	}
	for _, k := range lenientChecker {
		checkerTable[k] = lenient(mustKeyword(checkerTable, k))
		tcpCheckerTable[k] = lenient(mustKeyword(tcpCheckerTable, k))
	}
	for _, k := range lenientMisc {
		miscTable[k] = lenient(mustKeyword(miscTable, k))
	}
}

// skipAs runs parse with its errors recorded as skipped errors saying
// what keepalived 2.2.7 does then (what): for a virtual_server or
// real_server address or port keepalived reports "Invalid ... ip
// address/port - skipping" and runs without that service or real server,
// which the caller leaves out when parse fails.
func (b *builder) skipAs(what string, parse func() bool) bool {
	saved := b.d
	tmp := getScratchDiags()
	b.d = tmp
	ok := parse()
	b.d = saved
	for _, d := range tmp.list {
		switch {
		case d.Severity == SeverityError && !d.Skipped:
			saved.Skipf(d.Pos, "%s; %s, as keepalived 2.2.7 does", d.Message, what)
		case d.Severity == SeverityError:
			saved.Skipf(d.Pos, "%s", d.Message)
		default:
			saved.Warnf(d.Pos, "%s", d.Message)
		}
	}
	putScratchDiags(tmp)
	return ok
}

// scratchDiags are the Diagnostics skipAs and lenient collect a handler's
// findings in before re-recording them: one per keyword of every real
// server was a tenth of what a load of genconfig -n 10000 allocated.
var scratchDiags = sync.Pool{New: func() any { return &Diagnostics{} }}

func getScratchDiags() *Diagnostics { return scratchDiags.Get().(*Diagnostics) }

// putScratchDiags empties d (its findings were re-recorded) for reuse.
func putScratchDiags(d *Diagnostics) {
	clear(d.list)
	*d = Diagnostics{list: d.list[:0]}
	scratchDiags.Put(d)
}
