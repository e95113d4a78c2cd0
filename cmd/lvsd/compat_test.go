package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// knownDifferences lists the samples where lvsd's verdict deliberately
// differs from keepalived 2.2.7's; docs/compatibility.md gives the same
// reasons. The test fails if a difference appears that is not listed here,
// or if a listed one disappears, so the document cannot drift.
var knownDifferences = map[string]string{
	"keepalived.conf.SMTP_CHECK":     "lvsd warns that the sample's SMTP_CHECK host blocks are deprecated: --strict fails on the warning; keepalived accepts",
	"keepalived.conf.vrrp":           "lvsd warns that a virtual address is in two instances (keepalived does not): --strict fails on the warning; keepalived accepts",
	"keepalived.conf.misc_check":     missingScript,
	"keepalived.conf.misc_check_arg": missingScript,
	"keepalived.conf.quorum":         missingScript,
	"keepalived.conf.vrrp.scripts":   missingScript,
	"keepalived.conf.vrrp.sync":      missingScript,
}

const (
	missingScript = "--host fails a script that does not exist on the host; keepalived -t does not look for it"
)

// TestCorpusVerdictsMatchKeepalived runs keepalived 2.2.7's `keepalived -t`
// and `lvsd check-config --host --strict` on every sample, in the same
// namespace (with the interfaces the samples name), and compares verdicts.
func TestCorpusVerdictsMatchKeepalived(t *testing.T) {
	keepalived := labtest.NeedBinary(t, "keepalived")
	samples, _ := filepath.Glob(filepath.Join(labtest.KeepalivedSamples(t), "keepalived.conf.*"))
	ns := labtest.NewNetns(t, "lvsdcompat")
	for i, ifname := range []string{"eth0", "eth1", "eth2", "eth3", "eth0.1"} {
		peer := "peer" + string(rune('a'+i))
		ns.MustIP(t, "link", "add", ifname, "type", "veth", "peer", "name", peer)
		ns.MustIP(t, "link", "set", ifname, "up")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var differing []string
	for _, sample := range samples {
		base := filepath.Base(sample)
		abs, _ := filepath.Abs(sample)
		kcmd := ns.Command(keepalived, "-t", "-l", "-f", abs)
		kcmd.Dir = filepath.Dir(abs)
		kout, kerr := kcmd.CombinedOutput()
		kOK := kerr == nil
		var ee *exec.ExitError
		if kerr != nil && !errors.As(kerr, &ee) {
			t.Fatalf("keepalived: %v", kerr)
		}
		lcmd := ns.Command(self, "check-config", "--host", "--strict", "-f", abs)
		lcmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
		lout, lerr := lcmd.CombinedOutput()
		lOK := lerr == nil
		if lerr != nil && !errors.As(lerr, &ee) {
			t.Fatalf("lvsd: %v", lerr)
		}
		if strings.Contains(string(lout), "panic") {
			t.Errorf("%s: lvsd panicked:\n%s", base, lout)
		}
		reason, known := knownDifferences[base]
		switch {
		case kOK != lOK && !known:
			t.Errorf("%s: keepalived accepts=%v, lvsd accepts=%v (undocumented difference)\nkeepalived:\n%s\nlvsd:\n%s", base, kOK, lOK, kout, lout)
		case kOK == lOK && known:
			t.Errorf("%s: listed as a difference (%s) but both now say accepts=%v; update knownDifferences and docs/compatibility.md", base, reason, kOK)
		}
		if kOK != lOK {
			differing = append(differing, base)
		}
		t.Logf("%-42s keepalived=%-6v lvsd=%v", base, kOK, lOK)
	}
	sort.Strings(differing)
	t.Logf("%d samples, %d documented differences: %s", len(samples), len(differing), strings.Join(differing, ", "))
}
