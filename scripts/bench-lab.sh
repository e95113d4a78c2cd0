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
#
# KINDS sets the health-check rounds, in order (default "lvsd keepalived
# keepalived lvsd"): keepalived, lvsd (this tree), or the name of a binary
# in .lab/bin, optionally with environment settings, KIND:VAR=x,VAR2=y. To
# compare builds:
#   go build -o .lab/bin/lvsd-old ./cmd/lvsd     # at the older commit
#   KINDS="lvsd lvsd-old keepalived lvsd-old lvsd keepalived" scripts/bench-lab.sh checks
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${LVSD_IN_LAB:-}" != 1 ]; then
  cd "$here"
  mkdir -p .lab/bin
  go build -o .lab/bin/bench-lvsd ./cmd/lvsd
  go build -o .lab/bin/bench-demo ./scripts/demo
  exec env LAB_TIMEOUT=${LAB_TIMEOUT:-1500} "$here/scripts/lab.sh" env KINDS="${KINDS:-}" bash "$here/scripts/bench-lab.sh" "$@"
fi

lvsd=$here/.lab/bin/bench-lvsd
listener=$here/.lab/bin/bench-demo
work=/tmp/bench
mkdir -p "$work"
hz=$(getconf CLK_TCK)

# The benchmark configurations (each prints a keepalived.conf).
gen_sync() { # 10,000 x 4, no checkers
  awk 'BEGIN {
    for (i = 0; i < 10000; i++) {
      printf "virtual_server 10.%d.%d.1 80 {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", int(i/250), i%250
      for (r = 1; r <= 4; r++) printf "  real_server 172.16.%d.%d 80 {\n    weight %d\n  }\n", i%250, r, r
      print "}"
    } }'
}

gen_checks() { # 100 x 100 TCP_CHECK targets at 127.0.A.B:9000
  awk 'BEGIN {
    for (v = 0; v < 100; v++) {
      printf "virtual_server 10.60.%d.1 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", v
      for (r = 0; r < 100; r++)
        printf "  real_server 10.61.%d.%d 80 {\n    weight 1\n    TCP_CHECK {\n      connect_ip 127.0.%d.%d\n      connect_port 9000\n      connect_timeout 3\n    }\n  }\n", v, r+1, v, r+1
      print "}"
    } }'
}

# lvsd_binary KIND: "lvsd" is this tree's build; any other name a binary in
# .lab/bin (an older build to compare, see KINDS).
lvsd_binary() { if [ "$1" = lvsd ]; then echo "$lvsd"; else echo "$here/.lab/bin/$1"; fi; }

start_daemon() { # spec ns conf; spec is keepalived, lvsd or KIND[:VAR=x,VAR2=y]
  local kind=${1%%:*} envs=${LVSD_BENCH_ENV:-} ns=$2 conf=$3
  [ "$1" != "$kind" ] && envs=$(echo "${1#*:}" | tr , " ")
  ip netns add "$ns"; ip -n "$ns" link set lo up
  case $kind in
    keepalived) ip netns exec "$ns" keepalived -n -C -f "$conf" -p "$work/$ns.pid" -c "$work/$ns.cpid" >"$work/$ns.log" 2>&1 & ;;
    *) ip netns exec "$ns" env $envs "$(lvsd_binary "$kind")" run -C -f "$conf" --state-dir "$work/$ns" --metrics-addr "" ${LVSD_BENCH_ARGS:-} >"$work/$ns.log" 2>&1 & ;;
  esac
}

stop_daemon() { # ns
  local pids; pids=$(ip netns pids "$1" || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  sleep 2
  pids=$(ip netns pids "$1" || true); [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  ip netns del "$1"
}

cpu_ticks() { # "user system" clock ticks of the daemon's processes in ns (not the listener)
  local u=0 y=0 p
  for p in $(ip netns pids "$1"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = bench-demo ] && continue
    set -- $(awk '{print $14, $15}' /proc/$p/stat 2>/dev/null || echo 0 0)
    u=$((u + $1)); y=$((y + $2))
  done
  echo $u $y
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
# Rounds alternate (ABBA) because the emulated machine's speed drifts
# within a boot; the totals divide all CPU by all checks of each kind.
kinds=${KINDS:-lvsd keepalived keepalived lvsd}
echo "== Health checks: 10,000 TCP_CHECK targets, delay_loop 1, 30 s windows after 15 s, rounds: $kinds"
gen_checks > "$work/checks.conf"
declare -A user_sum sys_sum checks_sum secs_sum rss_max
order=()
round=0
for spec in $kinds; do
  round=$((round + 1))
  kind=${spec%%:*}
  [ -n "${checks_sum[$spec]+x}" ] || order+=("$spec")
  ns=bc-$round
  # The listener shares the daemon's namespace (its loopback is the targets).
  start_daemon "$spec" $ns "$work/checks.conf"
  ip netns exec "$ns" "$listener" gateway bench 0.0.0.0:9000 "$work/$ns.count" >/dev/null 2>&1 &
  sleep 15
  o0=$(opens $ns); set -- $(cpu_ticks $ns); u0=$1 y0=$2; s=$(date +%s.%N)
  sleep 30
  set -- $(cpu_ticks $ns); u1=$1 y1=$2; e=$(date +%s.%N); o1=$(opens $ns)
  secs=$(echo "$e - $s" | bc -l)
  cpu=$(echo "($u1 - $u0 + $y1 - $y0) / $hz / $secs * 100" | bc -l)
  rss=$(rss_kb $ns)
  up=$(ip netns exec $ns ipvsadm -Ln | grep -c -- '->  *10.61' || true)
  if [ "$kind" != keepalived ]; then
    echo "  $spec log: $(grep -c 'up=false' "$work/$ns.log") real servers went down, $(grep -c 'ipvs reconciled' "$work/$ns.log") reconciles"
    { "$(lvsd_binary "$kind")" status --json --control-socket "$work/$ns/lvsd.sock" 2>&1 | grep -o '"last_error": *"[^"]*"' |
      sed 's/[0-9.]*:[0-9]*//g' | sort | uniq -c | sort -rn | head -3 | sed 's/^/  last errors: /'; } || true
  fi
  rate=$(echo "($o1 - $o0) / $secs" | bc -l)
  printf "  round %d %-11s CPU %6.2f%% of one core (user %5.2f, system %6.2f)   RSS %7.1f MiB   checks/s %7.0f   CPU ms per 1000 checks %6.1f   real servers in IPVS: %s\n" \
    $round "$spec" "$cpu" "$(echo "($u1 - $u0) / $hz / $secs * 100" | bc -l)" "$(echo "($y1 - $y0) / $hz / $secs * 100" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)" "$rate" "$(echo "$cpu * 10 / $rate * 1000" | bc -l)" "$up"
  user_sum[$spec]=$(( ${user_sum[$spec]:-0} + u1 - u0 ))
  sys_sum[$spec]=$(( ${sys_sum[$spec]:-0} + y1 - y0 ))
  checks_sum[$spec]=$(( ${checks_sum[$spec]:-0} + o1 - o0 ))
  secs_sum[$spec]=$(echo "${secs_sum[$spec]:-0} + $secs" | bc -l)
  [ "$rss" -gt "${rss_max[$spec]:-0}" ] && rss_max[$spec]=$rss
  stop_daemon $ns
done
declare -A cpu_tot per_check
for spec in "${order[@]}"; do
  ticks=$(( ${user_sum[$spec]} + ${sys_sum[$spec]} ))
  cpu_tot[$spec]=$(echo "$ticks / $hz / ${secs_sum[$spec]} * 100" | bc -l)
  per_check[$spec]=$(echo "$ticks / $hz * 1000000 / ${checks_sum[$spec]}" | bc -l)
  printf "  %-11s all rounds: CPU %6.2f%% of one core   CPU ms per 1000 checks %6.1f   checks/s %7.0f   RSS max %7.1f MiB\n" "$spec" \
    "${cpu_tot[$spec]}" "${per_check[$spec]}" "$(echo "${checks_sum[$spec]} / ${secs_sum[$spec]}" | bc -l)" "$(echo "${rss_max[$spec]} / 1024" | bc -l)"
done
if [ -n "${per_check[keepalived]:-}" ]; then
  for spec in "${order[@]}"; do
    [ "$spec" = keepalived ] && continue
    printf "  ratio %s/keepalived: CPU per check %.2f, CPU %.2f, RSS %.2f\n" "$spec" "$(echo "${per_check[$spec]} / ${per_check[keepalived]}" | bc -l)" \
      "$(echo "${cpu_tot[$spec]} / ${cpu_tot[keepalived]}" | bc -l)" "$(echo "${rss_max[$spec]} / ${rss_max[keepalived]}" | bc -l)"
  done
fi
fi
