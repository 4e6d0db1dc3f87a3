#!/bin/bash
# The size and start-up figures of issue 19 at scale: LICENCES licences with one activation
# each (`licd-bench seed --activate`), then licd stopped and `licd compact`ed, then:
#   - bytes per licence: the compacted redb file's size over LICENCES (target <= 1 KiB at 1M);
#   - start to READY: from starting `licd serve` on the full database to its first answer
#     on /healthz, polled every 2 ms (an upper bound of the time to READY=1), over RESTARTS
#     starts, with the VmRSS of the started daemon (target <= 200 ms at 1M).
#
#   bench/scale.sh [LICENCES]        (default 1000000; RESTARTS=3, LICD, LICD_BENCH)
#
# Needs release builds: cargo build --release -p licd -p licd-bench.
set -euo pipefail
licences=${1:-1000000}
restarts=${RESTARTS:-3}
licd=${LICD:-target/release/licd}
bench=${LICD_BENCH:-target/release/licd-bench}
for b in "$licd" "$bench"; do
  [ -x "$b" ] || { echo "scale: $b missing: cargo build --release -p licd -p licd-bench" >&2; exit 1; }
done

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# Starts licd on the data directory; sets pid, port and ms (the milliseconds from the start
# to the first answer on /healthz). Not called in a subshell, so that pid is kept.
start() {
  port=$(free_port)
  local began
  began=$(now_ms)
  "$licd" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >>"$work/licd.log" 2>&1 &
  pid=$!
  local answered=
  for _ in $(seq 1 10000); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { answered=1; break; }
    kill -0 "$pid" 2>/dev/null || { cat "$work/licd.log" >&2; exit 1; }
    sleep 0.002
  done
  ms=$(( $(now_ms) - began ))
  # A figure for a daemon that never answered would be a wrong one.
  [ -n "$answered" ] || { echo "scale: licd did not answer /healthz within ${ms} ms" >&2; cat "$work/licd.log" >&2; exit 1; }
}
stop() {
  kill "$pid"
  wait "$pid" || true
  pid=
}

start
seeded=$("$bench" seed --licences "$licences" --activate --clients 32 --url "http://127.0.0.1:$port")
echo "$seeded" >&2
stop
before=$(stat -c %s "$work/data/licd.redb")
"$licd" compact --data-dir "$work/data" >&2
after=$(stat -c %s "$work/data/licd.redb")
echo "licences: $licences, each with one activation" >&2
echo "file: $((before / 1048576)) MiB before compact, $((after / 1048576)) MiB after: $((after / licences)) bytes per licence (target <= 1024)" >&2
for i in $(seq 1 "$restarts"); do
  start
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  echo "start $i: first answer after $ms ms, VmRSS $((rss / 1024)) MiB (target <= 200 ms)" >&2
  stop
done
