#!/bin/bash
# Instructions per request, counted by valgrind's callgrind: the figure to compare two builds
# by when the machine is too noisy for requests per second (a shared VM's steal moves wrk's
# figures by 20 % between runs; this count moves by about 3 %).
#
#   bench/instructions.sh [validate|activate] [REQUESTS]
#
# licd runs under callgrind on a fresh database; 20 keys of 10,000 seats and 200 activated
# pairs are made, 300 validations warm the read cache, then the counters are zeroed, REQUESTS
# (default 2,000) requests are made one after another on one keep-alive connection, and the
# counters dumped. `validate` validates the 200 pairs in turn; `activate` activates a new
# computer per request (one client: one commit per activation, so redb's commit is not
# amortised over a batch as under load). User-space instructions of every licd thread are
# counted; the kernel's (TCP, fdatasync) are not. callgrind counts each byte step of a
# `rep movsb` (glibc's large memcpy) as an instruction, so big copies weigh more here than in
# time, and valgrind hides the SHA extensions (SHA-256 runs its software path): read a
# difference with a perf profile beside it (docs/benchmarks.md). Every reply is checked. Environment: LICD
# (target/release/licd), KEEP (a file to copy the callgrind dump to, for callgrind_annotate).
# Installs valgrind from Debian when missing (as root).
set -euo pipefail
scenario=${1:-validate}
requests=${2:-2000}
licd=${LICD:-target/release/licd}
case "$scenario" in validate | activate) ;; *) echo "instructions: validate or activate" >&2; exit 2 ;; esac
if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "instructions: needs valgrind: apt-get install valgrind" >&2
    exit 1
  fi
fi
[ -x "$licd" ] || { echo "instructions: $licd missing: cargo build --release -p licd" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" \
  "$licd" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/licd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
python3 - "$port" "$scenario" "$requests" "$pid" <<'EOF'
import http.client, re, subprocess, sys
port, scenario, requests, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def get(path):
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    if r.status != 200 or "<error" in body:
        sys.exit(f"instructions: {path}: HTTP {r.status}: {body[:300]}")
    return body
keys = [re.search(r"<activationKey>([^<]+)</activationKey>", get(
    "/qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0"
    "&is_numberofactivationsperkey=10000&is_vendor=QlmAuthenticationProvider"
    "&is_user=demo&is_pwd=demo")).group(1) for _ in range(20)]
pairs = [(keys[i % 20], f"P{i}") for i in range(200)]
for key, pc in pairs:
    get(f"/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc}")
for i in range(300):
    key, pc = pairs[i % 200]
    get(f"/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc}")
subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
for i in range(requests):
    key, pc = pairs[i % 200] if scenario == "validate" else (keys[i % 20], f"N{i}")
    body = get(f"/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc}")
    want = "<pckey>" if scenario == "validate" else "was activated"
    if want not in body:
        sys.exit(f"instructions: unexpected reply: {body[:300]}")
subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
EOF
# callgrind_control returns once the dump is asked for; wait for the file to be complete.
dump=
for _ in $(seq 1 100); do
  dump=$(ls "$work"/callgrind.*.1 2>/dev/null | head -n 1 || true)
  [ -n "$dump" ] && grep -q '^totals:' "$dump" && break
  sleep 0.1
done
total=$(awk '/^totals:/ {print $2}' "$dump")
[ -n "${KEEP:-}" ] && cp "$dump" "$KEEP"
python3 -c "print(f'$scenario: {$total / $requests:,.0f} instructions a request ($requests requests)')"
