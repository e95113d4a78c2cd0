#!/usr/bin/env bash
# Benchmarks that need IPVS, run in the lab VM, lvsd and keepalived -C in
# the same run (each in a fresh network namespace, so each has its own IPVS
# table):
#   1. IPVS cold sync: 10,000 virtual servers x 4 real servers, no checks:
#      time from start to the full table (ipvsadm -Ln).
#   2. Health checks at scale: 10,000 TCP_CHECK targets (100 x 100) on a
#      loopback listener, delay_loop 1: CPU (% of one core), CPU per check and
#      RSS over 30 s windows, two rounds per daemon alternating (ABBA).
# Figures under qemu TCG are slower than on hardware; compare the ratios.
#
#   scripts/bench-lab.sh [ipvs|checks]   (boots the VM and runs itself inside;
#                                         no argument runs both)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${LVSD_IN_LAB:-}" != 1 ]; then
  cd "$here"
  mkdir -p .lab/bin
  go build -o .lab/bin/bench-lvsd ./cmd/lvsd
  go build -o .lab/bin/bench-demo ./scripts/demo
  exec env LAB_TIMEOUT=1500 "$here/scripts/lab.sh" bash "$here/scripts/bench-lab.sh" "$@"
fi

lvsd=$here/.lab/bin/bench-lvsd
listener=$here/.lab/bin/bench-demo
work=/tmp/bench
mkdir -p "$work"
hz=$(getconf CLK_TCK)

# gen_sync, gen_checks: the benchmark configurations.
source "$here/scripts/bench-configs.sh"

start_daemon() { # kind ns conf
  local kind=$1 ns=$2 conf=$3
  ip netns add "$ns"; ip -n "$ns" link set lo up
  case $kind in
    lvsd) ip netns exec "$ns" env ${LVSD_BENCH_ENV:-} "$lvsd" run -C -f "$conf" --state-dir "$work/$ns" --metrics-addr "" ${LVSD_BENCH_ARGS:-} >"$work/$ns.log" 2>&1 & ;;
    keepalived) ip netns exec "$ns" keepalived -n -C -f "$conf" -p "$work/$ns.pid" -c "$work/$ns.cpid" >"$work/$ns.log" 2>&1 & ;;
  esac
}

stop_daemon() { # ns
  local pids; pids=$(ip netns pids "$1" || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  sleep 2
  pids=$(ip netns pids "$1" || true); [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  ip netns del "$1"
}

ticks() { # total utime+stime of the daemon's processes in ns (not the listener)
  local t=0 p
  for p in $(ip netns pids "$1"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = bench-demo ] && continue
    t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
  done
  echo $t
}

opens() { # TCP connects made in ns so far (the checkers' connects)
  ip netns exec "$1" nstat -az TcpActiveOpens | awk '/TcpActiveOpens/ {print $2}'
}

rss_kb() {
  local r=0 p
  for p in $(ip netns pids "$1"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = bench-demo ] && continue
    r=$((r + $(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)))
  done
  echo $r
}

only=${1:-all}
if [ "$only" = all ] || [ "$only" = ipvs ]; then
echo "== IPVS: cold sync of 10,000 virtual servers x 4 real servers, a no-op reload, one weight change"
gen_sync > "$work/sync.conf"
declare -A sync_s change_s
weight_of_first() { ip netns exec "$1" ipvsadm -Ln -t 10.0.0.1:80 2>/dev/null | awk '$2 == "172.16.0.1:80" {print $4}'; }
for kind in lvsd keepalived; do
  ns=bs-$kind
  cp "$work/sync.conf" "$work/sync-$kind.conf"
  s=$(date +%s.%N)
  start_daemon $kind $ns "$work/sync-$kind.conf"
  # Both daemons write 10.39.249.1:80 last (keepalived in config order,
  # lvsd in address order). Polling just that service keeps the poller
  # from dumping a 40,000-entry table five times a second, which under
  # emulation slowed the daemon it was timing.
  while [ "$(ip netns exec $ns ipvsadm -Ln -t 10.39.249.1:80 2>/dev/null | grep -c -- '->  *172')" -lt 4 ]; do
    sleep 0.2
    if [ "$(echo "$(date +%s.%N) - $s > 900" | bc)" = 1 ]; then echo "$kind: timeout"; break; fi
  done
  e=$(date +%s.%N)
  total=$(ip netns exec $ns ipvsadm -Ln 2>/dev/null | grep -c -- '->  *172' || true)
  [ "$total" = 40000 ] || echo "  $kind: $total real servers in the table when the last one appeared, want 40000"
  sync_s[$kind]=$(echo "$e - $s" | bc)
  pid=$(ip netns pids $ns | head -1)
  [ $kind = keepalived ] && pid=$(cat "$work/$ns.pid")
  noop=""
  if [ $kind = lvsd ]; then
    kill -HUP "$pid"
    while ! grep -q 'why=reload' "$work/$ns.log"; do sleep 0.1; done
    noop=$(grep 'why=reload' "$work/$ns.log" | tail -1 | sed 's/.*writes=\([0-9]*\).*/\1/')
  fi
  sed -i '0,/weight 1$/s//weight 9/' "$work/sync-$kind.conf"
  s=$(date +%s.%N)
  kill -HUP "$pid"
  while [ "$(weight_of_first $ns)" != 9 ]; do
    sleep 0.05
    if [ "$(echo "$(date +%s.%N) - $s > 300" | bc)" = 1 ]; then echo "$kind: weight change not seen"; break; fi
  done
  e=$(date +%s.%N)
  change_s[$kind]=$(echo "$e - $s" | bc)
  writes=""
  if [ $kind = lvsd ]; then
    sleep 0.5
    writes=$(grep 'why=reload' "$work/$ns.log" | tail -1 | sed 's/.*writes=\([0-9]*\).*/\1/')
    cold=$(grep 'why=start' "$work/$ns.log" | sed 's/.*writes=\([0-9]*\).*/\1/')
    printf "  %-11s cold sync %8.2f s (%s netlink writes); no-op reload: %s writes; one weight change: %s writes, in the kernel after %.2f s\n" \
      "$kind" "${sync_s[$kind]}" "$cold" "$noop" "$writes" "${change_s[$kind]}"
  else
    printf "  %-11s cold sync %8.2f s; one weight change in the kernel after %.2f s (SIGHUP)\n" "$kind" "${sync_s[$kind]}" "${change_s[$kind]}"
  fi
  stop_daemon $ns
done
printf "  ratio lvsd/keepalived: cold sync %.2f, weight change %.2f\n" \
  "$(echo "${sync_s[lvsd]} / ${sync_s[keepalived]}" | bc -l)" "$(echo "${change_s[lvsd]} / ${change_s[keepalived]}" | bc -l)"

fi

if [ "$only" = all ] || [ "$only" = checks ]; then
echo "== Health checks: 10,000 TCP_CHECK targets, delay_loop 1, 30 s windows after 15 s, rounds lvsd keepalived keepalived lvsd"
gen_checks > "$work/checks.conf"
# Rounds alternate (ABBA) because the emulated machine's speed drifts
# within a boot; the totals divide all CPU by all checks of each daemon.
declare -A ticks_sum checks_sum secs_sum rss_max
round=0
for kind in lvsd keepalived keepalived lvsd; do
  round=$((round + 1))
  ns=bc-$kind-$round
  # The listener shares the daemon's namespace (its loopback is the targets).
  start_daemon $kind $ns "$work/checks.conf"
  ip netns exec "$ns" "$listener" gateway bench 0.0.0.0:9000 "$work/$ns.count" >/dev/null 2>&1 &
  sleep 15
  o0=$(opens $ns); t0=$(ticks $ns); s=$(date +%s.%N)
  sleep 30
  t1=$(ticks $ns); e=$(date +%s.%N); o1=$(opens $ns)
  secs=$(echo "$e - $s" | bc -l)
  cpu=$(echo "($t1 - $t0) / $hz / $secs * 100" | bc -l)
  rss=$(rss_kb $ns)
  up=$(ip netns exec $ns ipvsadm -Ln | grep -c -- '->  *10.61' || true)
  if [ $kind = lvsd ]; then
    echo "  lvsd log: $(grep -c 'up=false' "$work/$ns.log") real servers went down, $(grep -c 'ipvs reconciled' "$work/$ns.log") reconciles"
    { "$lvsd" status --json --control-socket "$work/$ns/lvsd.sock" 2>&1 | grep -o '"last_error": *"[^"]*"' |
      sed 's/[0-9.]*:[0-9]*//g' | sort | uniq -c | sort -rn | head -3 | sed 's/^/  last errors: /'; } || true
  fi
  rate=$(echo "($o1 - $o0) / $secs" | bc -l)
  printf "  round %d %-11s CPU %6.2f%% of one core   RSS %7.1f MiB   checks/s %7.0f   CPU ms per 1000 checks %6.1f   real servers in IPVS: %s\n" \
    $round "$kind" "$cpu" "$(echo "$rss / 1024" | bc -l)" "$rate" "$(echo "$cpu * 10 / $rate * 1000" | bc -l)" "$up"
  ticks_sum[$kind]=$(( ${ticks_sum[$kind]:-0} + t1 - t0 ))
  checks_sum[$kind]=$(( ${checks_sum[$kind]:-0} + o1 - o0 ))
  secs_sum[$kind]=$(echo "${secs_sum[$kind]:-0} + $secs" | bc -l)
  [ "$rss" -gt "${rss_max[$kind]:-0}" ] && rss_max[$kind]=$rss
  stop_daemon $ns
done
declare -A cpu_tot per_check
for kind in lvsd keepalived; do
  cpu_tot[$kind]=$(echo "${ticks_sum[$kind]} / $hz / ${secs_sum[$kind]} * 100" | bc -l)
  per_check[$kind]=$(echo "${ticks_sum[$kind]} / $hz * 1000000 / ${checks_sum[$kind]}" | bc -l)
  printf "  %-11s both rounds: CPU %6.2f%% of one core   CPU ms per 1000 checks %6.1f   checks/s %7.0f   RSS max %7.1f MiB\n" "$kind" \
    "${cpu_tot[$kind]}" "${per_check[$kind]}" "$(echo "${checks_sum[$kind]} / ${secs_sum[$kind]}" | bc -l)" "$(echo "${rss_max[$kind]} / 1024" | bc -l)"
done
printf "  ratio lvsd/keepalived: CPU per check %.2f, CPU %.2f, RSS %.2f\n" "$(echo "${per_check[lvsd]} / ${per_check[keepalived]}" | bc -l)" \
  "$(echo "${cpu_tot[lvsd]} / ${cpu_tot[keepalived]}" | bc -l)" "$(echo "${rss_max[lvsd]} / ${rss_max[keepalived]}" | bc -l)"
fi

