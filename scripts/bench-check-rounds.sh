#!/usr/bin/env bash
# Compare lvsd builds (and keepalived -C) on CPU per health check, in one lab
# VM boot, rounds in the order given. Each KIND is a binary in .lab/bin (or
# "keepalived"), optionally with environment settings: KIND:VAR=x,VAR2=y.
#
#   go build -o .lab/bin/lvsd-a ./cmd/lvsd   # one build per version
#   go build -o .lab/bin/bench-demo ./scripts/demo
#   scripts/lab.sh env KINDS="lvsd-a lvsd-b keepalived lvsd-b lvsd-a keepalived" \
#       bash "$PWD/scripts/bench-check-rounds.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
w=/tmp/c3; mkdir -p $w; hz=$(getconf CLK_TCK)
source "$here/scripts/bench-configs.sh"
gen_checks > $w/checks.conf
for spec in ${KINDS:?set KINDS, e.g. "lvsd-a keepalived lvsd-b"}; do
  kind=${spec%%:*}; envs=; [ "$spec" != "$kind" ] && envs=$(echo ${spec#*:} | tr , " ")
  ns=c3-$kind; ip netns add $ns; ip -n $ns link set lo up
  ip netns exec $ns $here/.lab/bin/bench-demo gateway bench 0.0.0.0:9000 $w/count >/dev/null 2>&1 &
  case $kind in
    keepalived) ip netns exec $ns keepalived -n -C -f $w/checks.conf -p $w/p -c $w/c >$w/$kind.log 2>&1 & ;;
    *) ip netns exec $ns env $envs $here/.lab/bin/$kind run -C -f $w/checks.conf --state-dir $w/st-$kind --metrics-addr "" >$w/$kind.log 2>&1 & ;;
  esac
  sleep 15
  pids=$(for p in $(ip netns pids $ns); do [ "$(cat /proc/$p/comm)" = bench-demo ] || echo $p; done)
  tick() { local t=0; for p in $pids; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
  ut() { local u=0 s=0; for p in $pids; do set -- $(awk '{print $14, $15}' /proc/$p/stat); u=$((u+$1)); s=$((s+$2)); done; echo $u $s; }
  o0=$(ip netns exec $ns nstat -az TcpActiveOpens | awk '/TcpActiveOpens/{print $2}'); set -- $(ut); u0=$1 s0=$2; t0=$(date +%s.%N)
  sleep 30
  o1=$(ip netns exec $ns nstat -az TcpActiveOpens | awk '/TcpActiveOpens/{print $2}'); set -- $(ut); u1=$1 s1=$2; t1=$(date +%s.%N)
  rss=0; for p in $pids; do rss=$((rss + $(awk '/VmRSS/{print $2}' /proc/$p/status))); done
  el=$(echo "$t1 - $t0" | bc -l); rate=$(echo "($o1 - $o0) / $el" | bc -l)
  cpu=$(echo "($u1 - $u0 + $s1 - $s0) / $hz / $el * 100" | bc -l)
  printf "%-40s cpu %5.1f%% (user %5.1f sys %5.1f)  checks/s %6.0f  cpu-ms/1000 checks %6.1f  rss %5.1f MiB\n" $spec $cpu \
    $(echo "($u1 - $u0) / $hz / $el * 100" | bc -l) $(echo "($s1 - $s0) / $hz / $el * 100" | bc -l) $rate $(echo "$cpu * 10 / $rate * 1000" | bc -l) $(echo "$rss/1024" | bc -l)
  kill $(ip netns pids $ns) 2>/dev/null; sleep 2; kill -9 $(ip netns pids $ns) 2>/dev/null; ip netns del $ns
done
