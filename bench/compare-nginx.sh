#!/bin/bash
# licd against nginx, the way users compare servers (issue 19): wrk -t2 -c256 against licd
# (durable activations of a new computer per request on 200 keys of 10,000 seats, then
# validations of 1,000 activated pairs) and, in the same run, against nginx (2 workers)
# returning a fixed 110-byte <QuickLicenseManager> reply. Every reply is checked in a wrk
# Lua `response` hook: a non-200 or an `<error>` fails the run. nginx also serves one of
# licd's own validation replies as a file, so that the TCP cost of the reply's size (about
# ten times the fixed one) is measured apart from licd's work. licd's RSS is its VmRSS after
# both licd runs. The figures printed are the median of RUNS runs.
#
#   bench/compare-nginx.sh [LICENCES] [SECONDS]
#
# LICENCES (default 0: a fresh database) are created first with `licd-bench seed
# --activate` (one activation each), and the validations then go to 100,000 of those pairs
# drawn at random instead of the 1,000 activated pairs; licd is restarted on the seeded
# file before the runs. Environment: RUNS (3), CONNECTIONS (256), LICD,
# LICD_BENCH. Installs wrk and nginx from Debian when missing (as root).
# Needs release builds: cargo build --release -p licd -p licd-bench.
set -euo pipefail
licences=${1:-0}
seconds=${2:-10}
runs=${RUNS:-3}
connections=${CONNECTIONS:-256}
# wrk needs at least one connection per thread: one connection is one thread.
threads=$(( connections < 2 ? connections : 2 ))
licd=${LICD:-target/release/licd}
bench=${LICD_BENCH:-target/release/licd-bench}

if ! command -v wrk >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
  else
    echo "compare-nginx: needs wrk and nginx: apt-get install wrk nginx-light" >&2
    exit 1
  fi
fi
nginx_bin=$(command -v nginx)
for b in "$licd" "$bench"; do
  [ -x "$b" ] || { echo "compare-nginx: $b missing: cargo build --release -p licd -p licd-bench" >&2; exit 1; }
done
# 256 connections and more need as many descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The reply nginx serves: a fixed 110-byte <QuickLicenseManager> document (issue 19).
reply='<?xml version="1.0" encoding="utf-8"?><QuickLicenseManager><result>ok</result></QuickLicenseManager>'
while [ ${#reply} -lt 110 ]; do reply="${reply/<result>/<result> }"; done
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type "text/xml; charset=utf-8"; return 200 '$reply'; }
    # licd's own validation reply (written below from a real one), so that the cost of its
    # size in the TCP stack shows apart from licd's work.
    location = /validate-reply.xml {
      root $work/www;
      default_type "text/xml; charset=utf-8";
      open_file_cache max=16;
      open_file_cache_valid 600s;
    }
  }
}
EOF
"$nginx_bin" -c "$work/nginx.conf" -e "$work/nginx-error.log"

# The Lua of every wrk run: $1 = activate | validate | fixed | same. Each thread keeps its own
# counts; done() adds them up and prints one line the script reads.
lua() {
  cat <<EOF
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  errors = 0
  first = nil
  dofile("$work/pairs.lua")
  PAIRS = {}
  for line in io.lines("$work/pairs.txt") do
    local key, pc = line:match("(%S+) (%S+)")
    table.insert(PAIRS, {key, pc})
  end
end
function request()
  counter = counter + 1
  if "$1" == "activate" then
    local key = KEYS[(counter % #KEYS) + 1]
    return wrk.format("GET", "/qlmservice.asmx/ValidateLicenseHttp?is_avkey=" .. key
      .. "&is_pcid=W" .. RUN .. "-" .. id .. "-" .. counter)
  elseif "$1" == "validate" then
    local pair = PAIRS[(counter % #PAIRS) + 1]
    return wrk.format("GET", "/qlmservice.asmx/ValidateLicenseHttp?is_avkey=" .. pair[1]
      .. "&is_pcid=" .. pair[2])
  elseif "$1" == "same" then
    return wrk.format("GET", "/validate-reply.xml")
  end
  return wrk.format("GET", "/")
end
function response(status, headers, body)
  local want = "$1" == "activate" and "was activated"
    or (("$1" == "validate" or "$1" == "same") and "<pckey>" or "<result>")
  if status ~= 200 or body:find("<error", 1, true) or not body:find(want, 1, true) then
    errors = errors + 1
    if first == nil then first = status .. " " .. body:sub(1, 200) end
  end
end
function done(summary, latency, requests)
  local errors, first = 0, nil
  for _, t in ipairs(threads) do
    errors = errors + t:get("errors")
    first = first or t:get("first")
  end
  io.write(string.format("RESULT rps=%.0f p50=%.2f p99=%.2f requests=%d errors=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
  if first then io.write("FIRST " .. first .. "\n") end
end
EOF
}
for s in activate validate fixed same; do lua "$s" > "$work/$s.lua"; done

# CPU time (user + system, in clock ticks) the processes $@ have used so far.
cpu_ticks() {
  local total=0 p
  for p in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$total"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
nginx_pids() { local master; master=$(cat "$work/nginx.pid"); echo "$master" $(pgrep -P "$master"); }

# One wrk run: $1 = scenario, $2 = port, $3... = the server's pids. Prints "rps p50 p99
# server_us wrk_us", the last two the CPU time per request of the server and of wrk; fails
# on any bad reply.
wrk_run() {
  local out before
  before=$(cpu_ticks "${@:3}")
  # `times` in the same subshell gives wrk's CPU time (the subshell's children).
  out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 10s -s "$work/$1.lua" "http://127.0.0.1:$2" 2>&1; times)
  local server_ticks wrk_s
  server_ticks=$(( $(cpu_ticks "${@:3}") - before ))
  wrk_s=$(tail -n 1 <<<"$out" | python3 -c '
import re, sys
print(sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())))')
  local line
  line=$(grep '^RESULT' <<<"$out") || { echo "$out" >&2; exit 1; }
  local errors sockets
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  sockets=$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$line")
  if [ "$errors" != 0 ] || [ "$sockets" != 0 ]; then
    echo "compare-nginx: $1 on port $2: $errors bad replies, $sockets socket errors" >&2
    grep '^FIRST' <<<"$out" >&2 || true
    exit 1
  fi
  local requests
  requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
  echo "$(sed -n 's/^RESULT rps=\([0-9]*\) p50=\([0-9.]*\) p99=\([0-9.]*\).*/\1 \2 \3/p' <<<"$line")" \
    "$(python3 -c "print(f'{$server_ticks * $tick_us / $requests:.1f} {$wrk_s * 1e6 / $requests:.1f}')")"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Starts licd on $data and $port, appending to its run's log, and waits for its first
# answer; sets pid.
start_licd() {
  "$licd" serve --data-dir "$data" --listen "127.0.0.1:$port" >>"$work/licd-$run.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "compare-nginx: licd did not answer /healthz within 10 s" >&2
  cat "$work/licd-$run.log" >&2
  exit 1
}

results=()
for run in $(seq 1 "$runs"); do
  port=$(free_port)
  data="$work/licd-$run"
  start_licd
  if [ "$licences" != 0 ]; then
    "$bench" seed --licences "$licences" --activate --pairs-out "$work/seeded-$run" \
      --url "http://127.0.0.1:$port" >/dev/null
    # Restarted on the seeded file, so that RSS is a serving daemon's, not that of the one
    # that took the bulk creation (10,000 licences a transaction and their replies).
    kill "$pid"
    wait "$pid" || true
    start_licd
  fi
  # 200 keys of 10,000 seats and 1,000 activated pairs, written as Lua for the wrk threads.
  python3 - "$port" "$run" "$work/seeded-$run" > "$work/pairs.lua" <<'EOF'
import http.client, os, random, re, sys
port, run, seeded = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
def get(path):
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    if r.status != 200 or "<error" in body:
        sys.exit(f"compare-nginx: {path}: HTTP {r.status}: {body[:300]}")
    return body
keys = []
for _ in range(200):
    body = get("/qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1"
               "&is_minorversion=0&is_numberofactivationsperkey=10000"
               "&is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=demo")
    keys.append(re.search(r"<activationKey>([^<]+)</activationKey>", body).group(1))
pairs = []
for i in range(1000):
    key, pc = keys[i % len(keys)], f"POOL{run}-{i}"
    get(f"/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc}")
    pairs.append((key, pc))
# One validation reply as licd sends it, for nginx to serve as a file.
www = os.path.join(os.path.dirname(seeded), "www")
os.makedirs(www, exist_ok=True)
with open(os.path.join(www, "validate-reply.xml"), "w") as f:
    f.write(get(f"/qlmservice.asmx/ValidateLicenseHttp?is_avkey={pairs[0][0]}&is_pcid={pairs[0][1]}"))
# With a seeded database the validations are spread over it (100,000 pairs drawn at random
# from the seeded ones, beyond the read cache's 8,192), so that its size shows.
if os.path.exists(seeded):
    with open(seeded) as f:
        seeded_pairs = [tuple(line.split()) for line in f if line.strip()]
    pairs = random.Random(run).sample(seeded_pairs, min(100_000, len(seeded_pairs)))
# The pairs go to a file of their own that each wrk thread reads at start: a Lua chunk
# holds at most 65,536 constants.
with open(os.path.join(os.path.dirname(seeded), "pairs.txt"), "w") as f:
    f.writelines(f"{k} {p}\n" for k, p in pairs)
print(f'RUN = "{run}"')
print("KEYS = {" + ",".join(f'"{k}"' for k in keys) + "}")
EOF
  read -r act act50 act99 act_us _ < <(wrk_run activate "$port" "$pid")
  read -r val val50 val99 val_us val_wrk_us < <(wrk_run validate "$port" "$pid")
  rss=$(rss_kib "$pid")
  read -r fixed fixed50 fixed99 fixed_us fixed_wrk_us < <(wrk_run fixed "$nginx_port" $(nginx_pids))
  read -r same _ _ same_us _ < <(wrk_run same "$nginx_port" $(nginx_pids))
  kill "$pid"
  wait "$pid" || true
  echo "run $run: activate $act/s (p50 $act50 ms, p99 $act99 ms); validate $val/s (p50 $val50 ms, p99 $val99 ms); nginx $fixed/s, with licd's reply $same/s; CPU per request: licd activation $act_us us, validation $val_us us (wrk $val_wrk_us us), nginx $fixed_us us (wrk $fixed_wrk_us us), with licd's reply $same_us us; licd VmRSS $((rss / 1024)) MiB" >&2
  results+=("$act $act50 $act99 $val $val50 $val99 $fixed $rss $same $act_us $val_us $val_wrk_us $fixed_us $fixed_wrk_us $same_us")
done

# Medians of each column over the runs.
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
(act, act50, act99, val, val50, val99, fixed, rss, same, act_us, val_us, val_wrk_us, fixed_us,
 fixed_wrk_us, same_us) = (statistics.median(c) for c in zip(*rows))
print(f"licences: '"$licences"', connections: '"$connections"', runs: {len(rows)} (medians)")
print(f"durable activations/s: {act:,.0f} (p50 {act50:.2f} ms, p99 {act99:.1f} ms; target >= 25,000, p99 <= 25 ms)")
print(f"validations/s: {val:,.0f} (p50 {val50:.2f} ms, p99 {val99:.1f} ms) = {val / fixed:.2f} x nginx ({fixed:,.0f}/s; target >= 0.60)")
print(f"nginx serving licd'"'"'s validation reply ('"$(wc -c < "$work/www/validate-reply.xml")"' bytes) as a file: {same:,.0f}/s; licd = {val / same:.2f} x that")
print(f"CPU per request: licd {act_us:.0f} us an activation, {val_us:.0f} us a validation (wrk {val_wrk_us:.0f} us); nginx {fixed_us:.1f} us (wrk {fixed_wrk_us:.1f} us), {same_us:.1f} us with licd'"'"'s reply")
print(f"licd VmRSS after both runs: {rss / 1024:.0f} MiB (target <= 96 MiB)")
'
