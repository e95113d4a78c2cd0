package daemon

import (
	"os"
	"strings"

	"github.com/lvsd/lvsd/internal/config"
)

// sysctlAdvice lists the director sysctls the configuration needs but the
// machine does not have. lvsd reports them and changes nothing: they are
// the operator's to set (sysctl.d), as with keepalived.
func sysctlAdvice(cfg *config.Config, read func(string) (string, bool)) []string {
	var nat, removes, persistentInhibit bool
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			// config.Load gives every real server a method (its
			// virtual server's unless it sets one).
			if rs.Method == config.MethodNAT {
				nat = true
			}
			if len(rs.Checkers) > 0 && !rs.InhibitOnFailure {
				removes = true
			}
			if vs.Persistent && rs.InhibitOnFailure {
				persistentInhibit = true
			}
		}
	}
	var out []string
	check := func(need bool, name, want, why string) {
		if !need {
			return
		}
		if v, ok := read(name); ok && v != want {
			out = append(out, name+" is "+v+"; "+why+" (set it to "+want+")")
		}
	}
	check(nat, "net.ipv4.ip_forward", "1", "NAT virtual servers route real servers' replies through this host")
	check(removes, "net.ipv4.vs.expire_nodest_conn", "1", "connections to a real server removed by a failed check are black-holed until they time out")
	check(persistentInhibit, "net.ipv4.vs.expire_quiescent_template", "1", "persistent clients stay on a weight-0 real server")
	return out
}

func readProcSys(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
