#!/bin/bash
# licd on PostgreSQL with 1, 2 and 3 nodes on one database, next to one redb node: activate
# and validate with 256 clients in all. For N nodes, N licd-bench processes run at once,
# each with 256/N clients against its own node; the figure is the sum of their requests/s
# (each licd-bench checks every reply). One private PostgreSQL cluster (initdb + pg_ctl
# from Debian's postgresql, loopback, trust, fsync on, synchronous_commit on) is made in a
# temporary directory and removed at the end; as root it runs as the user licd-pg-test,
# which .ci/run creates.
#
#   bench/compare-nodes.sh [SECONDS]
#
# Needs release builds: cargo build --release -p licd -p licd-bench.
set -euo pipefail
seconds=${1:-8}
licd=${LICD:-target/release/licd}
bench=${LICD_BENCH:-target/release/licd-bench}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u licd-pg-test --); chown licd-pg-test "$work"; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" start >/dev/null
nodes=()
cleanup() {
  for pid in "${nodes[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# CPU time (user + system, in clock ticks) of one process, and of every postgres process.
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_cpu() {
  local sum=0
  for pid in $(pgrep -x postgres || true); do sum=$((sum + $(proc_cpu "$pid"))); done
  echo "$sum"
}
psql() { "${as_pg[@]}" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt "$@"; }

# One run: $1 = scenario, $2 = number of nodes (0 = one redb node).
run() {
  local scenario=$1 n=$2 count=$2 base=18080 pids=() outs=()
  nodes=()
  if [ "$n" = 0 ]; then
    count=1
    "$licd" serve --data-dir "$work/redb-$scenario" --listen "127.0.0.1:$base" >/dev/null 2>&1 &
    nodes+=($!)
  else
    local db="licd_${scenario}_$n"
    psql -d postgres -c "CREATE ROLE $db LOGIN" -c "CREATE DATABASE $db OWNER $db"
    sed -e "s|^backend = \"redb\"|backend = \"postgres\"\npostgresUrl = \"postgres://$db@127.0.0.1:$port/$db?sslmode=disable\"|" \
      conf/licd.toml > "$work/$db.toml"
    for i in $(seq 0 $((n - 1))); do
      mkdir -p "$work/$db-$i"
      "$licd" serve --config "$work/$db.toml" --data-dir "$work/$db-$i" \
        --listen "127.0.0.1:$((base + i))" >/dev/null 2>&1 &
      nodes+=($!)
    done
  fi
  sleep 2
  # CPU seconds of PostgreSQL's processes before the run, to say where the time goes.
  local pg_before
  pg_before=$(pg_cpu)
  for i in $(seq 0 $((count - 1))); do
    "$bench" run --scenario "$scenario" --clients $((256 / count)) --duration "$seconds" \
      --url "http://127.0.0.1:$((base + i))" > "$work/out-$i" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  local total=0
  for i in $(seq 0 $((count - 1))); do
    local figure
    figure=$(sed -n 's/^requests\/s: \([0-9.]*\).*/\1/p' "$work/out-$i" | head -1)
    grep -e '^latency' -e '^ok:' "$work/out-$i" | tr '\n' ' ' | sed "s/^/  node $i: /;s/$/\n/" || true
    grep -m1 '^first error' "$work/out-$i" | sed "s/^/  node $i: /" || true
    total=$(python3 -c "print(round($total + float('${figure:-0}' or 0)))")
  done
  local label="postgres $n node(s)"; [ "$n" = 0 ] && label="redb 1 node"
  local licd_cpu=0
  for pid in "${nodes[@]}"; do licd_cpu=$((licd_cpu + $(proc_cpu "$pid"))); done
  echo "$label $scenario: $total requests/s (CPU seconds: licd $((licd_cpu / 100)), postgres $((($(pg_cpu) - pg_before) / 100)))"
  for pid in "${nodes[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${nodes[@]}" 2>/dev/null || true
  nodes=()
}

for scenario in activate validate; do
  for n in 0 1 2 3; do run "$scenario" "$n"; done
done
