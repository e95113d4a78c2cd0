// Package packaging holds the tests of the Debian package scripts/deb.sh
// builds (docs/packaging.md).
package packaging

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

const testVersion = "0.0.1~test"

// debPath is where the host-side test leaves the package for the VM (in
// the checkout: the VM cannot see the host's /tmp).
func debPath(t testing.TB) string {
	return filepath.Join(labtest.RepoRoot(t), ".lab", "deb-test", "lvsd.deb")
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// lintianAllowed are the lintian warnings the package keeps, each
// explained in docs/packaging.md.
var lintianAllowed = map[string]bool{
	// A static PIE (Go, CGO_ENABLED=0) has no DT_NEEDED on libc.
	"shared-library-lacks-prerequisites": true,
}

// TestDebPackage builds the package with scripts/deb.sh, checks its
// control fields, contents and lintian's verdict, runs systemd-analyze
// verify on its units, then installs, starts, stops, removes and purges it
// in the lab VM on a throwaway overlay root (TestVMDebInstall).
func TestDebPackage(t *testing.T) {
	if labtest.InVM() {
		t.Skip("host side")
	}
	labtest.NeedRoot(t)
	for _, b := range []string{"dpkg-deb", "lintian", "systemd-analyze", "go"} {
		labtest.NeedBinary(t, b)
	}
	root := labtest.RepoRoot(t)
	dist := filepath.Dir(debPath(t))
	os.RemoveAll(dist)
	cmd := exec.Command(filepath.Join(root, "scripts", "deb.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DIST="+dist, "VERSION="+testVersion, "TMPDIR="+t.TempDir(), "DEB_COMPRESS=gzip")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deb.sh: %v\n%s", err, out)
	}
	built := strings.TrimSpace(string(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	if !strings.HasSuffix(built, "lvsd_"+testVersion+"_amd64.deb") {
		t.Fatalf("deb.sh printed %q", out)
	}
	if !filepath.IsAbs(built) {
		built = filepath.Join(root, built)
	}
	if err := os.Rename(built, debPath(t)); err != nil {
		t.Fatal(err)
	}
	deb := debPath(t)

	// Control fields: installable beside keepalived (no Conflicts,
	// Replaces or Provides), no library dependency.
	fields := map[string]string{
		"Package": "lvsd", "Version": testVersion, "Architecture": "amd64", "Section": "admin",
		"Priority": "optional", "Recommends": "ipvsadm", "Suggests": "keepalived",
		"Conflicts": "", "Replaces": "", "Provides": "", "Breaks": "", "Depends": "", "Pre-Depends": "",
	}
	for f, want := range fields {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, f)); got != want {
			t.Errorf("control %s: %q, want %q", f, got, want)
		}
	}
	if got := run(t, "dpkg-deb", "--ctrl-tarfile", deb); got == "" {
		t.Fatal("no control archive")
	}
	x := t.TempDir()
	run(t, "dpkg-deb", "-R", deb, x)
	conffiles, _ := os.ReadFile(filepath.Join(x, "DEBIAN", "conffiles"))
	if string(conffiles) != "/etc/default/lvsd\n" {
		t.Errorf("conffiles %q", conffiles)
	}
	for _, f := range []string{"postinst", "prerm", "postrm"} {
		if st, err := os.Stat(filepath.Join(x, "DEBIAN", f)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("maintainer script %s: %v", f, err)
		}
	}

	// Contents.
	var files []string
	filepath.Walk(x, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasPrefix(p, filepath.Join(x, "DEBIAN")) {
			files = append(files, strings.TrimPrefix(p, x))
		}
		return nil
	})
	has := map[string]bool{}
	for _, f := range files {
		has[f] = true
	}
	for _, want := range []string{
		"/usr/sbin/lvsd", "/etc/default/lvsd",
		"/lib/systemd/system/lvsd.service", "/lib/systemd/system/lvsd-realserver.service",
		"/usr/share/man/man8/lvsd.8.gz", "/usr/share/man/man8/lvsd-run.8.gz", "/usr/share/man/man8/lvsd-genhash.8.gz",
		"/usr/share/man/man8/lvsd-check-config.8.gz", "/usr/share/man/man8/lvsd-realserver-up.8.gz",
		"/usr/share/bash-completion/completions/lvsd", "/usr/share/zsh/vendor-completions/_lvsd",
		"/usr/share/fish/vendor_completions.d/lvsd.fish",
		"/usr/share/doc/lvsd/copyright", "/usr/share/doc/lvsd/changelog.gz",
		"/usr/share/doc/lvsd/README.md.gz", "/usr/share/doc/lvsd/operations.md.gz", "/usr/share/doc/lvsd/compatibility.md.gz",
		"/usr/share/doc/lvsd/examples/keepalived.conf",
	} {
		if !has[want] {
			t.Errorf("package lacks %s", want)
		}
	}
	for _, f := range files {
		// Nothing keepalived's package ships: the two install side by side.
		if strings.Contains(f, "keepalived") && !strings.HasPrefix(f, "/usr/share/doc/lvsd/") || f == "/usr/bin/genhash" {
			t.Errorf("package ships %s (keepalived's)", f)
		}
	}
	// The man pages are those of the packaged binary's commands.
	bin := filepath.Join(x, "usr", "sbin", "lvsd")
	if v := run(t, bin, "version"); !strings.Contains(v, testVersion) {
		t.Errorf("lvsd version: %q", v)
	}
	mandir := t.TempDir()
	run(t, bin, "man", mandir)
	gen, _ := filepath.Glob(filepath.Join(mandir, "*.8"))
	pkg, _ := filepath.Glob(filepath.Join(x, "usr", "share", "man", "man8", "*.8.gz"))
	names := func(l []string, suffix string) []string {
		var n []string
		for _, p := range l {
			n = append(n, strings.TrimSuffix(filepath.Base(p), suffix))
		}
		sort.Strings(n)
		return n
	}
	if g, p := names(gen, ".8"), names(pkg, ".8.gz"); fmt.Sprint(g) != fmt.Sprint(p) {
		t.Errorf("man pages: packaged %v, binary's %v", p, g)
	}
	unit, _ := os.ReadFile(filepath.Join(x, "lib", "systemd", "system", "lvsd.service"))
	for _, want := range []string{"EnvironmentFile=-/etc/default/lvsd", "ExecStart=/usr/sbin/lvsd run -f /etc/keepalived/keepalived.conf $DAEMON_ARGS", "Conflicts=keepalived.service"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("lvsd.service lacks %s", want)
		}
	}

	// systemd-analyze verify on the packaged units, the binary at its
	// packaged path rewritten to the extracted one.
	for _, u := range []string{"lvsd.service", "lvsd-realserver.service"} {
		body, _ := os.ReadFile(filepath.Join(x, "lib", "systemd", "system", u))
		d := t.TempDir()
		p := filepath.Join(d, u)
		os.WriteFile(p, bytes.ReplaceAll(body, []byte("/usr/sbin/lvsd"), []byte(bin)), 0o644)
		out, _ := exec.Command("systemd-analyze", "verify", "--man=no", p).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, u) {
				t.Errorf("systemd-analyze verify %s: %s", u, l)
			}
		}
	}

	// lintian: no error; warnings only those docs/packaging.md explains.
	lout, _ := exec.Command("lintian", "--no-cfg", "-I", "-E", "--pedantic", deb).CombinedOutput()
	t.Logf("lintian:\n%s", lout)
	tagRE := regexp.MustCompile(`^([EWIPX]): lvsd: (\S+)`)
	errs, warns := 0, 0
	for _, l := range strings.Split(string(lout), "\n") {
		m := tagRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		switch m[1] {
		case "E":
			errs++
			t.Errorf("lintian error: %s", l)
		case "W":
			warns++
			if !lintianAllowed[m[2]] {
				t.Errorf("lintian warning not documented in docs/packaging.md: %s", l)
			}
		}
	}
	if !strings.Contains(string(lout), "lvsd:") && len(bytes.TrimSpace(lout)) > 0 && !bytes.Contains(lout, []byte("root privileges")) {
		t.Errorf("lintian output not understood: %s", lout)
	}
	t.Logf("lintian: %d errors, %d warnings", errs, warns)
	if t.Failed() {
		return
	}

	t.Setenv("LAB_OVERLAY", "1")
	labtest.RunInVM(t, "^TestVMDebInstall$")
}

// inThrowawayRoot refuses to go on unless / is the lab VM's overlay: the
// package is never installed on a real system.
func inThrowawayRoot(t *testing.T) {
	labtest.RequireVM(t)
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "/" && f[2] == "overlay" && strings.Contains(l, "upperdir=/ovl/upper") {
			return
		}
	}
	t.Fatalf("/ is not the lab's throwaway overlay (LAB_OVERLAY=1): refusing to install packages\n%s", mounts)
}

func sh(t *testing.T, script string) string {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%6.1fs  %.60s", time.Since(start).Seconds(), strings.ReplaceAll(script, "\n", "; ")) }()
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func isEnabled(unit string) string {
	out, _ := exec.Command("systemctl", "is-enabled", unit).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// TestVMDebInstall runs inside the lab VM on the throwaway root: install
// beside keepalived, the postinst's enable policy both ways, the unit's
// ExecStart with /etc/default/lvsd's DAEMON_ARGS run and stopped, upgrade
// (reinstall) keeping a changed conffile, remove and purge.
func TestVMDebInstall(t *testing.T) {
	inThrowawayRoot(t)
	deb := debPath(t)
	if !strings.Contains(sh(t, "dpkg-query -W -f '${Status}' keepalived"), "install ok installed") {
		t.Fatal("keepalived is not installed: the side-by-side install is not tested")
	}
	// dpkg reading its whole database (120,000 files) over the VM's 9p
	// takes minutes under TCG: the cycle runs on a database of its own
	// holding keepalived's record and file list (what the side-by-side
	// install is checked against), in the same throwaway root.
	sh(t, `A=/var/lib/dpkg-lvsdtest; rm -rf $A; mkdir -p $A/info $A/updates $A/triggers
dpkg-query -s keepalived > $A/status; : > $A/available; cp -p /var/lib/dpkg/info/keepalived.* $A/info/`)
	dpkg := "dpkg --admindir=/var/lib/dpkg-lvsdtest "
	dpkgQuery := "dpkg-query --admindir=/var/lib/dpkg-lvsdtest "
	kaFiles := sh(t, dpkgQuery+"-L keepalived | sort")
	if !strings.Contains(kaFiles, "/usr/bin/genhash") {
		t.Fatalf("keepalived's file list lacks /usr/bin/genhash:\n%s", kaFiles)
	}

	// 1. keepalived.service disabled: the package enables lvsd.service,
	// starts nothing.
	sh(t, "systemctl disable keepalived.service 2>&1 || true")
	if s := isEnabled("keepalived.service"); s != "disabled" {
		t.Fatalf("keepalived.service %q after disable", s)
	}
	start := time.Now()
	out := sh(t, dpkg+"-i "+deb+" 2>&1")
	t.Logf("dpkg -i (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if s := sh(t, dpkgQuery+"-W -f '${Status} ${Version}' lvsd"); s != "install ok installed "+testVersion {
		t.Fatalf("lvsd status %q", s)
	}
	if s := isEnabled("lvsd.service"); s != "enabled" {
		t.Errorf("lvsd.service %q after installing with keepalived disabled, want enabled", s)
	}
	if s := isEnabled("lvsd-realserver.service"); s != "disabled" {
		t.Errorf("lvsd-realserver.service %q, want disabled", s)
	}
	if got := sh(t, dpkgQuery+"-L keepalived | sort"); got != kaFiles {
		t.Errorf("keepalived's files changed by installing lvsd")
	}
	if s := sh(t, dpkgQuery+"-S /usr/bin/genhash"); !strings.HasPrefix(s, "keepalived:") {
		t.Errorf("/usr/bin/genhash: %s", s)
	}
	if out, err := exec.Command("pgrep", "-x", "lvsd").Output(); err == nil {
		t.Errorf("lvsd running after install: %s", out)
	}
	// The installed units verify with the installed binary.
	vstart := time.Now()
	defer func() { t.Logf("systemd-analyze verify took %v", time.Since(vstart)) }()
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", "/lib/systemd/system/lvsd.service", "/lib/systemd/system/lvsd-realserver.service").CombinedOutput(); err != nil || bytes.Contains(out, []byte("lvsd")) {
		t.Errorf("systemd-analyze verify (installed): %v\n%s", err, out)
	}
	if out := sh(t, "man -w lvsd-genhash 2>&1 || true"); !strings.Contains(out, "/usr/share/man/man8/lvsd-genhash.8.gz") {
		t.Errorf("man -w lvsd-genhash: %s", out)
	}

	// 2. Start and stop as lvsd.service does: its ExecStart with
	// /etc/default/lvsd's DAEMON_ARGS (here a metrics address of the
	// test's), the configuration at keepalived's path.
	sh(t, `mkdir -p /etc/keepalived && cat > /etc/keepalived/keepalived.conf <<'EOF'
global_defs {
    router_id deb-test
}
virtual_server 10.98.0.1 80 {
    delay_loop 5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.98.0.2 80 {
        weight 1
    }
}
EOF
sed -i 's|^DAEMON_ARGS=.*|DAEMON_ARGS="--metrics-addr 127.0.0.1:19650"|' /etc/default/lvsd`)
	unit, _ := os.ReadFile("/lib/systemd/system/lvsd.service")
	execStart := ""
	for _, l := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(l, "ExecStart=") {
			execStart = strings.TrimPrefix(l, "ExecStart=")
		}
	}
	daemon := exec.Command("/bin/sh", "-c", "set -a; . /etc/default/lvsd; set +a; exec "+execStart)
	var dlog bytes.Buffer
	daemon.Stdout, daemon.Stderr = &dlog, &dlog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	up := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get("http://127.0.0.1:19650/metrics")
		if err == nil {
			resp.Body.Close()
			if ipvs, _ := exec.Command("ipvsadm", "-Ln").CombinedOutput(); bytes.Contains(ipvs, []byte("10.98.0.1:80")) {
				up = true
				break
			}
		}
	}
	t.Logf("lvsd up after %v", time.Since(vstart))
	if !up {
		daemon.Process.Kill()
		daemon.Wait()
		t.Fatalf("lvsd from the unit's ExecStart did not serve metrics on DAEMON_ARGS's address and program IPVS in 60 s:\n%s", dlog.String())
	}
	if st, err := exec.Command("/usr/sbin/lvsd", "status").CombinedOutput(); err != nil {
		t.Errorf("lvsd status: %v\n%s", err, st)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("lvsd exited %v after SIGTERM:\n%s", err, dlog.String())
		}
	case <-time.After(30 * time.Second):
		daemon.Process.Kill()
		t.Fatalf("lvsd did not stop in 30 s after SIGTERM")
	}
	if ipvs, _ := exec.Command("ipvsadm", "-Ln").CombinedOutput(); bytes.Contains(ipvs, []byte("10.98.0.1:80")) {
		t.Errorf("lvsd left its virtual server after stopping:\n%s", ipvs)
	}

	// 3. Upgrade (reinstall): the changed /etc/default/lvsd is kept.
	sh(t, dpkg+"-i "+deb+" 2>&1")
	if d := sh(t, "cat /etc/default/lvsd"); !strings.Contains(d, `DAEMON_ARGS="--metrics-addr 127.0.0.1:19650"`) {
		t.Errorf("the changed conffile was not kept across the upgrade:\n%s", d)
	}

	// 4. Remove keeps the conffile, purge removes it and the enablement.
	sh(t, dpkg+"-r lvsd 2>&1")
	if _, err := os.Stat("/usr/sbin/lvsd"); err == nil {
		t.Errorf("/usr/sbin/lvsd left after remove")
	}
	if _, err := os.Stat("/etc/default/lvsd"); err != nil {
		t.Errorf("/etc/default/lvsd removed by remove (a conffile stays until purge)")
	}
	sh(t, dpkg+"-P lvsd 2>&1")
	if _, err := os.Stat("/etc/default/lvsd"); err == nil {
		t.Errorf("/etc/default/lvsd left after purge")
	}
	if l, _ := filepath.Glob("/etc/systemd/system/*/lvsd*.service"); len(l) > 0 {
		t.Errorf("unit links left after purge: %v", l)
	}
	if s := sh(t, dpkgQuery+"-W -f '${Status}' lvsd 2>&1 || true"); strings.Contains(s, "installed") && !strings.Contains(s, "not-installed") {
		t.Errorf("lvsd still %q after purge", s)
	}

	// 5. keepalived.service enabled: the package leaves lvsd.service
	// disabled and says how to switch.
	sh(t, "systemctl enable keepalived.service 2>&1")
	out = sh(t, dpkg+"-i "+deb+" 2>&1")
	if s := isEnabled("lvsd.service"); s != "disabled" {
		t.Errorf("lvsd.service %q after installing with keepalived enabled, want disabled", s)
	}
	if !strings.Contains(out, "keepalived.service is enabled") {
		t.Errorf("postinst did not say why lvsd.service is left disabled:\n%s", out)
	}
	if s := isEnabled("keepalived.service"); s != "enabled" {
		t.Errorf("keepalived.service %q after installing lvsd", s)
	}
	sh(t, dpkg+"-P lvsd 2>&1")
	if got := sh(t, dpkgQuery+"-L keepalived | sort"); got != kaFiles {
		t.Errorf("keepalived's files changed by the lvsd cycle")
	}
}
