package ipvs

import (
	"fmt"
	"maps"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestMain doubles the test binary as the small programs the data-path lab
// runs inside namespaces: a real server, a client, and a syncer process.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("LVSD_HELPER") == "sync":
		helperSync(os.Args[1], os.Args[2])
	case labtest.RunHelper():
	default:
		os.Exit(m.Run())
	}
	os.Exit(0)
}

// helperSync is the process that owns the syncer: it reconciles the config
// once, reports its writes, and then keeps running until killed.
func helperSync(confPath, stateFile string) {
	res := config.Load(confPath, config.Options{ConfigID: "lab"})
	if !res.OK() {
		fmt.Println(`{"error":"config"}`)
		os.Exit(1)
	}
	k, err := NewNetlink()
	if err != nil {
		fmt.Println(`{"error":"netlink"}`)
		os.Exit(1)
	}
	ck := &countingKernel{Kernel: k}
	s := NewSyncer(ck, nil, stateFile, false)
	if _, err := s.Reconcile(DesiredTable(res.Config, nil)); err != nil {
		fmt.Printf("{\"error\":%q}\n", err.Error())
		os.Exit(1)
	}
	fmt.Printf("{\"writes\":%d}\n", ck.writes)
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	for range reload {
		res := config.Load(confPath, config.Options{ConfigID: "lab"})
		ck.writes = 0
		if res.OK() {
			_, err = s.Reconcile(DesiredTable(res.Config, nil))
		}
		fmt.Printf("{\"writes\":%d}\n", ck.writes)
	}
}

// tablesEqual compares every field of two tables (SaveFormat leaves some out).
func tablesEqual(a, b Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, sa := range a {
		sb, ok := b[k]
		if !ok || sa.ServiceKey != sb.ServiceKey || !sameAttrs(sa, sb) || !maps.Equal(sa.Dests, sb.Dests) {
			return false
		}
	}
	return true
}
