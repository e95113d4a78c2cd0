package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// The monitoring lvsd ships: configs/grafana/lvsd-dashboard.json and
// configs/prometheus/lvsd-alerts.yml (with its promtool unit tests).

func repoFile(t testing.TB, rel string) string { return filepath.Join(labtest.RepoRoot(t), rel) }

// dashboardExprs are the PromQL expressions of the shipped dashboard,
// with its $job variable set to job.
func dashboardExprs(t testing.TB, job string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "configs/grafana/lvsd-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			out[fmt.Sprintf("%s #%d", p.Title, i)] = strings.ReplaceAll(tg.Expr, "$job", job)
		}
	}
	if len(out) < 20 {
		t.Fatalf("dashboard %q has %d expressions", d.Title, len(out))
	}
	return out
}

var alertExprRE = regexp.MustCompile(`(?m)^\s+expr: (.*)$`)

func alertExprs(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "configs/prometheus/lvsd-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range alertExprRE.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestMonitoringRulesAndDashboardParse: promtool finds the alert rules
// valid and their unit tests pass (each alert fires on the series it is
// for, with its labels and annotations), and every dashboard expression
// is valid PromQL (checked as a recording rule).
func TestMonitoringRulesAndDashboardParse(t *testing.T) {
	promtool := labtest.NeedBinary(t, "promtool")
	dir := repoFile(t, "configs/prometheus")
	for _, args := range [][]string{{"check", "rules", "lvsd-alerts.yml"}, {"test", "rules", "lvsd-alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	exprs := dashboardExprs(t, "lvsd")
	names := make([]string, 0, len(exprs))
	for n := range exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		q, _ := json.Marshal(exprs[n])
		fmt.Fprintf(&rules, "      - record: dashboard_expr_%d\n        expr: %s\n", i, q)
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("dashboard expressions: %v\n%s", err, out)
	}
}

// TestVMMonitoringQueriesReturnData runs lvsd as a director in the lab VM
// (VRRP, TCP_CHECKed real servers, IPVS, the connection sync daemon) with
// Debian's Prometheus scraping it, and evaluates every expression of the
// shipped dashboard through Prometheus's query API: each returns data.
// Every lvsd metric an alert rule reads is there too.
func TestVMMonitoringQueriesReturnData(t *testing.T) {
	labtest.RequireVM(t)
	prom := labtest.NeedBinary(t, "prometheus")
	dir := t.TempDir()
	// Prometheus first: it takes tens of seconds to start under TCG,
	// while the lab and lvsd come up.
	promConf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promConf, []byte("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nscrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: ['127.0.0.1:9650']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pcmd := exec.Command(prom, "--config.file="+promConf, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address=127.0.0.1:9091", "--log.level=warn")
	promLog := &syncBuffer{}
	pcmd.Stdout, pcmd.Stderr = promLog, promLog
	if err := pcmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pcmd.Process.Kill()
		_ = pcmd.Wait()
		if t.Failed() {
			t.Logf("--- prometheus ---\n%s", promLog.String())
		}
	})
	// The director alone, on a veth link (no namespaces: they cost
	// tens of seconds under TCG): the real servers are listeners on
	// addresses of that link, which TCP_CHECK reaches locally.
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	_ = exec.Command("ip", "link", "del", "mon0").Run()
	sh("ip link add mon0 type veth peer name mon1 && ip link set mon1 up && ip link set mon0 up && ip addr add 10.20.0.254/24 dev mon0")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "mon0").Run() })
	for i := 1; i <= 4; i++ {
		sh(fmt.Sprintf("ip addr add 10.20.0.%d/32 dev mon0", i))
		ln, err := net.Listen("tcp", fmt.Sprintf("10.20.0.%d:%s", i, labtest.LabVIPPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	_ = exec.Command("ipvsadm", "-C").Run()
	conf := filepath.Join(dir, "keepalived.conf")
	cfg := "global_defs {\n  router_id lab\n  lvs_sync_daemon mon0 VI_1\n}\n" +
		"vrrp_instance VI_1 {\n  state MASTER\n  interface mon0\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n" +
		"  virtual_ipaddress {\n    10.20.0.200/24\n  }\n}\n" + daemonConfig([4]int{16, 12, 8, 0})
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	lvsd := exec.Command(self, "run", "-f", conf, "--state-dir", dir, "--metrics-addr", "127.0.0.1:9650")
	lvsd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	lvsdLog := &syncBuffer{}
	lvsd.Stdout, lvsd.Stderr = lvsdLog, lvsdLog
	if err := lvsd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lvsd.Process.Kill()
		_ = lvsd.Wait()
		_ = exec.Command("ipvsadm", "-C").Run()
		if t.Failed() {
			t.Logf("--- lvsd ---\n%s", lvsdLog.String())
		}
	})
	// at is the evaluation time ("" = now): a scrape that times out under
	// TCG marks every series stale, so the expressions are evaluated just
	// after a scrape that succeeded.
	at := ""
	query := func(q string) (int, error) {
		resp, err := http.Get("http://127.0.0.1:9091/api/v1/query?query=" + url.QueryEscape(q) + at)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return 0, err
		}
		if r.Status != "success" {
			return 0, fmt.Errorf("%s", r.Error)
		}
		return len(r.Data.Result), nil
	}
	// Scraped, MASTER, every real server checked, and time for rate()
	// windows to hold several samples.
	labtest.WaitFor(t, "Prometheus scrapes lvsd as MASTER with 4 real servers checked", 60*time.Second, func() bool {
		n, err := query(`lvsd_vrrp_state{state="MASTER"} == 1`)
		m, err2 := query(`lvsd_check_up`)
		return err == nil && err2 == nil && n == 1 && m == 8
	})
	time.Sleep(4 * time.Second) // several samples in every rate() window
	labtest.WaitFor(t, "a successful scrape to evaluate after", 30*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:9091/api/v1/query?query=" + url.QueryEscape(`timestamp(up{job="lvsd"} == 1)`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return false
		}
		ts, ok := r.Data.Result[0].Value[1].(string)
		if !ok {
			return false
		}
		at = "&time=" + ts // the scrape's own time: its samples are the latest there
		return true
	})
	exprs := dashboardExprs(t, "lvsd")
	names := make([]string, 0, len(exprs))
	for n := range exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		got, err := query(exprs[n])
		if err != nil || got == 0 {
			t.Errorf("dashboard panel %q: %s: %d series, err %v", n, exprs[n], got, err)
		}
	}
	metricRE := regexp.MustCompile(`\blvsd_[a-z_]+`)
	for _, e := range alertExprs(t) {
		for _, m := range metricRE.FindAllString(e, -1) {
			if got, err := query("count(" + m + ")"); err != nil || got == 0 {
				t.Errorf("alert rule %q reads %s: no series (err %v)", e, m, err)
			}
		}
	}
	t.Logf("%d dashboard expressions and the metrics of %d alert rules return data", len(names), len(alertExprs(t)))
}
