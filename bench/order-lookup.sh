#!/bin/bash
# Times the order and subscription look-ups of RevokeLicenseHttp and RenewSubscriptionHttp at
# a million licences (issue 14: an order or subscription id is found through an index, within
# 50 ms at 1,000,000 licences). Seeds LICENCES licences, each with an order id and a
# subscription id (`licd-bench seed --order-prefix`, 10,000 keys an order), so that the
# vendor's index holds every one; then creates a small order of 3 keys and times, ROUNDS times
# each, the whole request (durable commit included) of: revoking it by order id, restoring
# it, renewing it by subscription id, and an order id the vendor never used (203).
# Prints min, median and max per request. Runs licd on the embedded configuration
# (127.0.0.1:8080, the demo vendor) with a fresh data directory, removed at the end.
#
#   cargo build --release -p licd -p licd-bench
#   bench/order-lookup.sh [LICENCES] [ROUNDS]
set -euo pipefail
licences=${1:-1000000} rounds=${2:-20}
licd=${LICD:-target/release/licd}
bench=${LICD_BENCH:-target/release/licd-bench}
url=http://127.0.0.1:8080/qlmservice.asmx
vendor="is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=demo"
dir=$(mktemp -d)
"$licd" serve --data-dir "$dir" >"$dir/licd.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1.5
"$bench" seed --licences "$licences" --order-prefix seed-
curl -sf "$url/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=3&is_usemultipleactivationskey=false&is_licensemodel=subscription&is_expdate=2031-01-01&is_orderid=probe&is_subscriptionid=probe-sub&$vendor" >/dev/null

# time_of NAME QUERY EXPECTED: ROUNDS requests, each reply checked for EXPECTED.
time_of() {
  local name=$1 query=$2 expected=$3 out
  for _ in $(seq "$rounds"); do
    out=$(curl -s -w '\n%{time_total}' "$url/$query")
    grep -q "$expected" <<<"${out%$'\n'*}" || { echo "$name: unexpected reply: $out" >&2; exit 1; }
    echo "${out##*$'\n'}"
  done | sort -n | awk -v name="$name" '{t[NR] = $1 * 1000}
    END {printf "%-40s min %6.2f ms  median %6.2f ms  max %6.2f ms\n", name, t[1], t[int((NR + 1) / 2)], t[NR]}'
}

echo "$licences licences seeded, each in an order and a subscription; $rounds requests each:"
time_of "RevokeLicenseHttp by order (3 keys)" "RevokeLicenseHttp?is_orderid=probe&$vendor" "3 licences of order probe"
time_of "RevokeLicenseHttp restore by order" "RevokeLicenseHttp?is_orderid=probe&is_revoke=false&$vendor" "3 licences of order probe"
time_of "RenewSubscriptionHttp by subscription" "RenewSubscriptionHttp?is_subscriptionid=probe-sub&is_expduration=1&$vendor" "3 licences of subscription probe-sub"
time_of "RevokeLicenseHttp, unknown order (203)" "RevokeLicenseHttp?is_orderid=nobody&$vendor" "203"
