#!/bin/bash
# Compares two release builds of licd: activate and validate with 256 clients, in ROUNDS
# interleaved rounds (before, after, before, after, ...), each run on a fresh data directory
# and the embedded configuration (127.0.0.1:8080). Prints one line per run; take the median.
#
#   bench/compare-builds.sh OLD/licd NEW/licd [ROUNDS] [SECONDS]
#
# licd-bench is taken from target/release (cargo build --release -p licd-bench).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} seconds=${4:-6}
bench=${LICD_BENCH:-target/release/licd-bench}
for round in $(seq "$rounds"); do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    for scenario in activate validate; do
      dir=$(mktemp -d)
      "$bin" serve --data-dir "$dir" >/dev/null 2>&1 &
      pid=$!
      sleep 1.5
      figure=$("$bench" run --scenario "$scenario" --clients 256 --duration "$seconds" --pid "$pid" 2>&1 | grep -m1 'requests/s' || echo "failed")
      echo "round $round $which $scenario $figure"
      kill "$pid"; wait "$pid" 2>/dev/null || true
      rm -rf "$dir"
    done
  done
done
