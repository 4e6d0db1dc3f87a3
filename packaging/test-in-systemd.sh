#!/usr/bin/env bash
# Proves the Debian package under a real systemd: boots Debian 12 (debootstrap) with
# systemd-nspawn, installs the package cargo-deb builds, and checks with systemctl and
# journalctl inside the container that
#   1. the unit starts and reaches "active (running)" through Type=notify (READY=1);
#   2. `systemctl reload` puts a changed /etc/licd/licd.toml in force (seen over HTTP and in
#      the journal), and a broken file is refused while the service keeps running;
#   3. `systemctl stop` ends the daemon with exit status 0;
#   4. systemd restarts the daemon after a `kill -9`;
#   5. systemd's watchdog restarts a stalled daemon (SIGSTOP: the pings stop);
#   6. the sandbox lets the daemon write only its state directory (and its private /tmp);
# and that PingHttp and /healthz answer on the configured address.
#
# Usage (as root): packaging/test-in-systemd.sh
# Needs debootstrap, systemd-container (systemd-nspawn), util-linux (nsenter) and cargo-deb
# (`cargo install cargo-deb --locked`); .ci/run installs them under CI=true.
# Environment:
#   LICD_NSPAWN_CACHE   where root file systems are cached (default /var/cache/licd-nspawn)
#   LICD_NSPAWN_MIRROR  Debian mirror for debootstrap (default: the one apt uses here)
#
# The container shares the host's network (no --private-network); licd listens on
# 127.0.0.1 port 0 (a free port the kernel picks), so it cannot clash with anything on the
# host. The root file system is the cached debootstrap tree mounted under a throw-away
# overlay (--volatile=overlay): nothing a run does is kept, and the cache is never changed
# after it is made. The container is powered off on exit, whatever the outcome.
# Commands run inside the container get their arguments as $1 of sh -c on purpose:
# shellcheck disable=SC2016
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."

SUITE=bookworm
VARIANT=minbase
# Besides minbase: systemd as init, D-Bus (systemd-analyze, logind), curl for the HTTP
# checks, and the package's dependencies (adduser, libssl3, procps), so that `dpkg -i`
# needs no network.
INCLUDE=systemd,systemd-sysv,dbus,curl,adduser,libssl3,procps
# Bump when the preparation of the cached tree below changes.
ROOTFS_FORMAT=2
CACHE=${LICD_NSPAWN_CACHE:-/var/cache/licd-nspawn}
PROFILE=packaging-test
MACHINE=licd-test-$$

NSPAWN_PID=
LEADER=
TMP_ROOTFS=
WORK=
TIMES=()
T_ALL=$EPOCHREALTIME

# --- output -----------------------------------------------------------------------------

STEP_NO=0
STEP_NAME=
STEP_T0=
step() {
  STEP_NO=$((STEP_NO + 1))
  STEP_NAME=$1
  STEP_T0=$EPOCHREALTIME
  printf '\n==> [%d] %s\n' "$STEP_NO" "$1"
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
step_done() {
  local s
  s=$(since "$STEP_T0")
  TIMES+=("$(printf '%7.1f s  [%d] %s' "$s" "$STEP_NO" "$STEP_NAME")")
  printf '    done in %s s\n' "$s"
}
ok() { printf '    ok    %s\n' "$*"; }
info() { printf '          %s\n' "$*"; }
figure() { printf '    time  %s\n' "$*"; }
fail() {
  printf '    FAIL  %s\n' "$*" >&2
  exit 1
}

# --- the container ----------------------------------------------------------------------

# Runs a command inside the container: every namespace of its init, a clean environment.
# (--register=no means no machined, so no machinectl or systemd-run --machine.)
in_ct() {
  timeout "${CT_TIMEOUT:-60}" nsenter -t "$LEADER" -a \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
    SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_URLIFY=0 "$@"
}
prop() { in_ct systemctl show licd --property "$1" --value; }
# The address licd serves on, from the status line it sends with READY=1.
listen_addr() { prop StatusText | sed -n 's|^serving on https\{0,1\}://||p'; }
main_pid() { prop MainPID; }
# The newest journal cursor: later checks read only what came after it.
cursor() { in_ct journalctl --no-pager -q -n 1 --show-cursor | sed -n 's/^-- cursor: //p'; }
journal_after() { in_ct journalctl --no-pager -q -u licd --after-cursor="$1" "${@:2}"; }
http() { in_ct curl -sS --max-time 10 "$@"; }

# Waits up to $1 seconds for the command to succeed; $2 says what for.
wait_for() {
  local limit=$1 what=$2 end
  shift 2
  end=$((EPOCHSECONDS + limit))
  until "$@"; do
    ((EPOCHSECONDS < end)) || fail "timed out after ${limit} s waiting for $what"
    sleep 0.2
  done
}
is_active_running() {
  [ "$(in_ct systemctl show licd -p ActiveState -p SubState --value | paste -sd/)" = active/running ]
}
# Active again under a process other than $1.
restarted_from() {
  local pid
  pid=$(main_pid)
  [ "$pid" != 0 ] && [ "$pid" != "$1" ] && is_active_running
}
# (grep reads to the end: an early exit would fail the pipe under pipefail.)
journal_has() { journal_after "$1" | grep -F -- "$2" >/dev/null; }

# Unmounts whatever is mounted below $1 (an interrupted debootstrap leaves /proc there),
# then removes it without crossing into another file system.
remove_tree() {
  local mnt
  awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r mnt; do umount -l "$mnt" || true; done
  rm -rf --one-file-system "$1"
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$LEADER" ] && [ "$rc" != 0 ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    printf '\n--- licd in the container at the failure ---\n' >&2
    CT_TIMEOUT=10 in_ct systemctl status licd --no-pager -l >&2 || true
    CT_TIMEOUT=10 in_ct journalctl -u licd --no-pager -q -n 60 >&2 || true
  fi
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    # SIGTERM: nspawn asks the container's systemd to power off.
    kill -TERM "$NSPAWN_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$NSPAWN_PID" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
      # Killing the container's init kills every process in its PID namespace.
      if [ -n "$LEADER" ]; then kill -KILL "$LEADER" 2>/dev/null || true; fi
      kill -KILL "$NSPAWN_PID" 2>/dev/null || true
    fi
    wait "$NSPAWN_PID" 2>/dev/null || true
    echo "container $MACHINE powered off"
  fi
  # nspawn leaves this directory behind when the host's /run is not a tmpfs.
  rmdir "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null || true
  if [ "$rc" != 0 ] && [ -n "$WORK" ] && [ -s "$WORK/nspawn.log" ]; then
    printf '\n--- systemd-nspawn output ---\n' >&2
    tail -n 40 "$WORK/nspawn.log" >&2 || true
  fi
  [ -n "$TMP_ROOTFS" ] && [ -d "$TMP_ROOTFS" ] && remove_tree "$TMP_ROOTFS"
  [ -n "$WORK" ] && rm -rf "$WORK"
  if [ "$rc" != 0 ]; then
    printf '\nFAILED at step [%d] %s\n' "$STEP_NO" "$STEP_NAME" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the mirror -------------------------------------------------------------------------

# The first mirror this machine's apt uses for $SUITE, from sources.list lines
# ("deb [options] URI suite components") and deb822 .sources files.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (j = 1; j <= NF; j++) {
          if ($j ~ /^Types:/) types = $j
          if ($j ~ /^URIs:/) uris = $j
          if ($j ~ /^Suites:/) suites = $j
        }
        sub(/^Suites:/, "", suites)
        if (types ~ /[ \t]deb([ \t]|$)/ && (" " suites " ") ~ ("[ \t]" suite "[ \t]")) {
          sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f"
  done
}

# --- 0. what is needed ------------------------------------------------------------------

step "Check the tools"
[ "$(id -u)" = 0 ] || fail "run as root (systemd-nspawn and debootstrap need it)"
missing=()
for tool in debootstrap systemd-nspawn nsenter flock timeout dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
  fail "missing ${missing[*]}: apt-get install debootstrap systemd-container util-linux dpkg"
cargo deb --version >/dev/null 2>&1 || fail "cargo-deb missing: cargo install cargo-deb --locked"
ok "$(systemd-nspawn --version | sed -n 1p), $(cargo deb --version), debootstrap $(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null || echo '?')"
WORK=$(mktemp -d /tmp/licd-systemd.XXXXXX)
step_done

# --- 1. the package ---------------------------------------------------------------------

step "Build the package (cargo deb, profile $PROFILE)"
cargo build --quiet --profile "$PROFILE" -p licd -p licd-fastspring -p licd-stripe -p licd-shopify \
    -p licd-woocommerce -p licd-paddle
mkdir -p "$WORK/deb"
cargo deb --quiet -p licd --no-build --fast --profile "$PROFILE" -o "$WORK/deb" >/dev/null
DEB=$(find "$WORK/deb" -name 'licd_*.deb' | sed -n 1p)
[ -n "$DEB" ] || fail "cargo deb made no package"
VERSION=$(dpkg-deb -f "$DEB" Version)
ok "$(basename "$DEB"): $(du -h "$DEB" | cut -f1), Depends: $(dpkg-deb -f "$DEB" Depends)"
step_done

# --- 2. the root file system ------------------------------------------------------------

step "Debian $SUITE root file system"
MIRROR=${LICD_NSPAWN_MIRROR:-$(apt_mirror | awk 'NR == 1')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ -z "${http_proxy:-}" ] && command -v apt-config >/dev/null 2>&1; then
  eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
  [ -n "${http_proxy:-}" ] && export http_proxy
fi
ARCH=$(dpkg --print-architecture)
KEY=$(printf '%s\n' "$ROOTFS_FORMAT" "$SUITE" "$VARIANT" "$INCLUDE" "$MIRROR" "$ARCH" |
  sha256sum | cut -c 1-16)
ROOTFS=$CACHE/$SUITE-$KEY
info "mirror $MIRROR (from this machine's apt), cache $ROOTFS"
mkdir -p "$CACHE"
# One debootstrap at a time; a second run waits for the first and reuses its tree.
exec 9>"$CACHE/.lock"
flock 9
if [ -d "$ROOTFS" ]; then
  ok "cached"
else
  # Half-made trees of interrupted runs (only ever made under this lock).
  for old in "$CACHE"/.tmp-*; do [ -e "$old" ] && remove_tree "$old"; done
  TMP_ROOTFS=$(mktemp -d "$CACHE/.tmp-$SUITE-$KEY.XXXXXX")
  chmod 0755 "$TMP_ROOTFS" # it becomes the container's /
  t0=$EPOCHREALTIME
  if ! timeout 1800 debootstrap --variant="$VARIANT" --include="$INCLUDE" --arch="$ARCH" \
    "$SUITE" "$TMP_ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    fail "debootstrap failed (log above)"
  fi
  # The package archive and lists are not needed: the package is installed with dpkg.
  rm -rf "$TMP_ROOTFS"/var/cache/apt/archives/*.deb "$TMP_ROOTFS"/var/lib/apt/lists/*
  for f in lib/systemd/systemd bin/kill usr/bin/curl usr/sbin/adduser; do
    [ -x "$TMP_ROOTFS/$f" ] || fail "the new tree has no /$f"
  done
  # Rename: the cache holds a whole tree or none.
  mv -T "$TMP_ROOTFS" "$ROOTFS"
  TMP_ROOTFS=
  figure "debootstrap $(since "$t0") s"
  ok "made $(du -sh "$ROOTFS" | cut -f1)"
fi
touch "$ROOTFS"
# Trees of other parameters not used for two weeks.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "$SUITE-*" ! -name "$SUITE-$KEY" -mtime +14 \
  -print | while read -r old; do remove_tree "$old"; done
flock -u 9
step_done

# --- 3. boot ----------------------------------------------------------------------------

step "Boot it: systemd-nspawn --register=no --keep-unit --boot"
t0=$EPOCHREALTIME
systemd-nspawn --register=no --keep-unit --boot --quiet --volatile=overlay \
  --directory="$ROOTFS" --machine="$MACHINE" --console=pipe \
  --bind-ro="$WORK/deb:/mnt/licd-deb" </dev/null >"$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
# The container's init: nspawn's child that is PID 1 in its own PID namespace.
find_leader() {
  local status pid
  kill -0 "$NSPAWN_PID" 2>/dev/null || fail "systemd-nspawn exited: $(tail -n 5 "$WORK/nspawn.log")"
  for status in /proc/[0-9]*/status; do
    pid=${status#/proc/}
    pid=${pid%/status}
    if awk -v p="$NSPAWN_PID" '/^PPid:/ { pp = ($2 == p) } /^NSpid:/ { one = ($NF == 1) }
        END { exit !(pp && one) }' "$status" 2>/dev/null &&
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then
      LEADER=$pid
      return 0
    fi
  done
  return 1
}
wait_for 60 "the container's systemd to start" find_leader
system_up() {
  local s
  s=$(CT_TIMEOUT=30 in_ct systemctl is-system-running --wait 2>/dev/null) || true
  [ "$s" = running ] || [ "$s" = degraded ] || return 1
  SYSTEM_STATE=$s
}
wait_for 120 "the container to finish booting" system_up
BOOT_S=$(since "$t0")
ok "init is host PID $LEADER; system $SYSTEM_STATE"
if [ "$SYSTEM_STATE" = degraded ]; then
  info "failed units (not licd's, which is not installed yet):"
  in_ct systemctl --failed --no-pager --no-legend | sed 's/^/          /'
fi
figure "boot to multi-user: $BOOT_S s"
step_done

# --- 4. install -------------------------------------------------------------------------

step "Install the package (dpkg -i; postinst creates the user, enables and starts licd)"
# The packaged configuration with one change: a free port. Put in place before dpkg, which
# keeps it (--force-confold), so the postinst's start already uses it.
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./etc/licd/licd.toml >"$WORK/licd.toml"
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/' "$WORK/licd.toml"
grep -qx 'listen = "127.0.0.1:0"' "$WORK/licd.toml" || fail "no listen line in the packaged licd.toml"
in_ct mkdir -p /etc/licd
in_ct sh -c 'cat > /etc/licd/licd.toml' <"$WORK/licd.toml"
t0=$EPOCHREALTIME
CT_TIMEOUT=180 in_ct dpkg --force-confold -i "/mnt/licd-deb/$(basename "$DEB")" >"$WORK/dpkg.log" 2>&1 ||
  { cat "$WORK/dpkg.log" >&2; fail "dpkg -i failed"; }
INSTALL_S=$(since "$t0")
sed 's/^/          | /' "$WORK/dpkg.log"
[ "$(in_ct systemctl is-enabled licd)" = enabled ] || fail "licd.service is not enabled"
ok "licd.service enabled"
[ "$(in_ct stat -c '%U:%G %a' /etc/licd/licd.toml)" = "root:licd 640" ] ||
  fail "/etc/licd/licd.toml is $(in_ct stat -c '%U:%G %a' /etc/licd/licd.toml), not root:licd 640"
ok "/etc/licd/licd.toml is root:licd 640"
figure "dpkg -i until active: $INSTALL_S s"
step_done

# --- check 1 ----------------------------------------------------------------------------

step "Check 1: Type=notify, active (running) after READY=1"
wait_for 30 "licd to be active (running)" is_active_running
[ "$(prop Type)" = notify ] || fail "Type=$(prop Type)"
# With Type=notify, "active" is reached only by READY=1 (TimeoutStartSec=infinity: no
# timeout would start it otherwise); the status line is the one sent with it.
ADDR=$(listen_addr)
[ -n "$ADDR" ] || fail "no 'serving on' status line from sd_notify: '$(prop StatusText)'"
ok "Type=notify, $(in_ct systemctl show licd -p ActiveState -p SubState --value | paste -sd' '), status \"$(prop StatusText)\""
in_ct systemctl status licd --no-pager -l | sed -n '1,8p' | sed 's/^/          | /'
in_ct journalctl -u licd --no-pager -q -o cat | grep -F "listening on http://$ADDR" >/dev/null ||
  fail "no 'listening on' line in the journal"
ok "journal: licd ${VERSION%-*} listening on http://$ADDR"
t0=$EPOCHREALTIME
in_ct systemctl restart licd
RESTART_S=$(since "$t0")
ADDR=$(listen_addr)
is_active_running || fail "not active (running) after systemctl restart"
figure "systemctl restart until READY=1: $RESTART_S s"
step_done

step "HTTP smoke test: PingHttp and /healthz on $ADDR"
ping=$(http "http://$ADDR/qlmservice.asmx/PingHttp") || fail "PingHttp: no answer"
grep -q "<result>Successfully connected to License Server at .*licd Version: ${VERSION%-*}</result>" <<<"$ping" ||
  fail "PingHttp answered: $ping"
ok "PingHttp: $(sed -n 's|.*<result>\(.*\)</result>.*|\1|p' <<<"$ping")"
[ "$(http "http://$ADDR/healthz")" = ok ] || fail "/healthz did not answer ok"
ok "/healthz: ok"
# An admin starting a second licd by hand is told which process holds the database (the
# service's lock on /var/lib/licd/licd.lock), and nothing changes.
second=$(CT_TIMEOUT=20 in_ct licd serve --config /etc/licd/licd.toml --listen 127.0.0.1:0 2>&1 |
  grep '^licd: ') || true
case "$second" in
*"another licd (pid $(main_pid)) holds this database"*) ok "a second licd: ${second#licd: }" ;;
*) fail "a second licd was not refused naming the service's pid: $second" ;;
esac
[ "$(http "http://$ADDR/healthz")" = ok ] || fail "/healthz did not answer ok after the second licd"
step_done

# --- check 2 ----------------------------------------------------------------------------

step "Check 2: systemctl reload applies a config change"
pid=$(main_pid)
restarts=$(prop NRestarts)
[ "$(http -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")" = 200 ] ||
  fail "/metrics is not 200 from 127.0.0.1 before the change"
ok "before: /metrics answers 200 to 127.0.0.1 (metricsAllowedIPs has loopback)"
c=$(cursor)
in_ct sed -i -e 's|^metricsAllowedIPs = .*|metricsAllowedIPs = ["192.0.2.1/32"]|' \
  -e 's|^logLevel = .*|logLevel = "debug"|' /etc/licd/licd.toml
in_ct systemctl reload licd || fail "systemctl reload failed"
ok "systemctl reload: exit 0"
wait_for 10 "'configuration reloaded' in the journal" journal_has "$c" "configuration reloaded"
[ "$(http -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")" = 403 ] ||
  fail "/metrics still answers 127.0.0.1 after the reload"
ok "after: /metrics answers 403 to 127.0.0.1 (metricsAllowedIPs = [\"192.0.2.1/32\"])"
http -o /dev/null "http://$ADDR/qlmservice.asmx/PingHttp" || fail "PingHttp: no answer"
# Request values are logged quoted (logging::untrusted), the path too.
wait_for 10 "a debug line for PingHttp" journal_has "$c" 'path="/qlmservice.asmx/PingHttp"'
ok "after: logLevel = \"debug\" logs each request:"
journal_after "$c" -o cat | grep -F 'path="/qlmservice.asmx/PingHttp"' | sed 's/^ */          | /'
if [ "$(main_pid)" != "$pid" ] || [ "$(prop NRestarts)" != "$restarts" ]; then
  fail "the reload restarted the daemon"
fi
ok "same process (MainPID $pid), no restart"
# A broken file is refused and the running configuration stays.
c=$(cursor)
in_ct sed -i 's|^logLevel = .*|logLevel = "loud"|' /etc/licd/licd.toml
in_ct systemctl reload licd || true
wait_for 10 "the refusal in the journal" journal_has "$c" "the running configuration stays"
journal_has "$c" "configuration reloaded" && fail "a broken file was applied"
if ! is_active_running || [ "$(main_pid)" != "$pid" ]; then
  fail "a broken file stopped the daemon"
fi
[ "$(http -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")" = 403 ] ||
  fail "a refused reload changed the running configuration"
ok "a broken file (logLevel = \"loud\") is refused, licd keeps running:"
journal_after "$c" -o cat | grep -F 'configuration reload refused' | sed 's/^ */          | /'
in_ct sed -i 's|^logLevel = .*|logLevel = "info"|' /etc/licd/licd.toml
in_ct systemctl reload licd
step_done

# --- check 3 ----------------------------------------------------------------------------

step "Check 3: systemctl stop exits 0"
c=$(cursor)
t0=$EPOCHREALTIME
in_ct systemctl stop licd || fail "systemctl stop failed"
STOP_S=$(since "$t0")
state=$(in_ct systemctl show licd -p ActiveState -p Result -p ExecMainCode -p ExecMainStatus | paste -sd' ')
info "$state"
# ExecMainCode=1 is CLD_EXITED: the daemon exited by itself, not killed by a signal.
for want in ActiveState=inactive Result=success ExecMainCode=1 ExecMainStatus=0; do
  grep -qw "$want" <<<"$state" || fail "after stop: $state (wanted $want)"
done
ok "inactive, Result=success, exited with status 0"
wait_for 10 "'licd stopped' in the journal" journal_has "$c" "licd stopped"
ok "journal: $(journal_after "$c" -o cat | grep -E 'shutting down|licd stopped' | paste -sd'|' | sed 's/|/; /g;s/  */ /g')"
figure "systemctl stop: $STOP_S s"
t0=$EPOCHREALTIME
in_ct systemctl start licd
START_S=$(since "$t0")
ADDR=$(listen_addr)
is_active_running || fail "not active (running) after systemctl start"
figure "systemctl start until READY=1: $START_S s"
step_done

# --- check 4 ----------------------------------------------------------------------------

step "Check 4: systemd restarts licd after kill -9"
pid=$(main_pid)
restarts=$(prop NRestarts)
c=$(cursor)
t0=$EPOCHREALTIME
in_ct sh -c 'kill -KILL "$1"' sh "$pid"
wait_for 60 "a new licd process" restarted_from "$pid"
KILL_S=$(since "$t0")
wait_for 10 "the kill in the journal" journal_has "$c" "status=9/KILL"
[ "$(prop NRestarts)" = $((restarts + 1)) ] || fail "NRestarts did not grow by one"
ADDR=$(listen_addr)
ok "MainPID $pid killed, now $(main_pid), active (running); NRestarts=$(prop NRestarts)"
journal_after "$c" -o cat | grep -E 'Main process exited|Scheduled restart|listening on' | sed 's/^/          | /'
[ "$(http "http://$ADDR/healthz")" = ok ] || fail "/healthz after the restart"
ok "/healthz: ok on $ADDR"
figure "kill -9 until active again: $KILL_S s (RestartSec=$(prop RestartUSec))"
step_done

# --- check 5 ----------------------------------------------------------------------------

step "Check 5: the watchdog restarts a stalled licd (SIGSTOP)"
# The unit's own WatchdogSec (no drop-in): licd pings at half of it.
wd=$(prop WatchdogUSec)
pid=$(main_pid)
info "WatchdogUSec=$wd; MainPID $pid"
t_ping=$(prop WatchdogTimestampMonotonic)
pinged() { [ "$(prop WatchdogTimestampMonotonic)" != "$t_ping" ]; }
wait_for 40 "a watchdog ping (WATCHDOG=1)" pinged
ok "pings arrive: WatchdogTimestamp moved on"
restarts=$(prop NRestarts)
c=$(cursor)
t0=$EPOCHREALTIME
in_ct sh -c 'kill -STOP "$1"' sh "$pid"
ok "sent SIGSTOP to $pid"
wait_for 90 "the watchdog to restart licd" restarted_from "$pid"
WATCHDOG_S=$(since "$t0")
wait_for 10 "the watchdog lines in the journal" journal_has "$c" "Watchdog timeout"
journal_has "$c" "Failed with result 'watchdog'" || fail "no Result=watchdog in the journal"
[ "$(prop NRestarts)" = $((restarts + 1)) ] || fail "NRestarts did not grow by one"
ADDR=$(listen_addr)
ok "Result=watchdog; MainPID $pid replaced by $(main_pid), active (running)"
journal_after "$c" -o cat | grep -E 'Watchdog timeout|Killing process|Main process exited|Failed with result|listening on' |
  sed 's/^/          | /'
[ "$(http "http://$ADDR/healthz")" = ok ] || fail "/healthz after the restart"
ok "/healthz: ok on $ADDR"
figure "SIGSTOP until active again: $WATCHDOG_S s (WatchdogSec=$wd)"
step_done

# --- check 6 ----------------------------------------------------------------------------

step "Check 6: the sandbox lets licd write only its state directory"
pid=$(main_pid)
uid=$(in_ct id -u licd)
gid=$(in_ct id -g licd)
# Probes run in the daemon's own mount and user namespaces (PrivateUsers=yes gives it one),
# entered with nsenter: they see the file system exactly as licd does.
as_root_in_sandbox() { in_ct nsenter -t "$pid" -m -U -- "$@"; }
as_licd_in_sandbox() { in_ct nsenter -t "$pid" -m -U -S "$uid" -G "$gid" -- "$@"; }
info "the daemon: $(in_ct sh -c "grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/$pid/status | tr -s '\t' ' ' | paste -sd';'")"
# (a) Mount level: every mount the daemon sees that is not read-only, probed as root in its
# namespaces (root there is not held back by file modes, so only a read-only mount stops
# it). proc and devpts are the kernel's process and terminal interfaces, not storage.
writable_mounts=$(as_root_in_sandbox sh -c '
  while read -r line; do
    set -- $line
    mp=$5 opts=$6 fstype=${line#* - }
    fstype=${fstype%% *}
    case "$opts" in rw | rw,*) ;; *) continue ;; esac
    case "$fstype" in proc | devpts) continue ;; esac
    if [ -d "$mp" ]; then
      f=$(mktemp -p "$mp" .licd-probe.XXXXXX 2>/dev/null) && rm -f "$f" && echo "$mp"
    elif [ -w "$mp" ]; then
      echo "$mp"
    fi
  done < /proc/self/mountinfo' | sort -u | paste -sd' ')
expected="/tmp /var/lib/licd /var/tmp"
[ "$writable_mounts" = "$expected" ] ||
  fail "writable mounts in the sandbox: '$writable_mounts', expected '$expected'"
ok "writable mounts: $writable_mounts (everything else is mounted read-only)"
# (b) As licd itself: the state directory is writable, the rest is not.
probe() { as_licd_in_sandbox sh -c 'f=$(mktemp -p "$1" .licd-probe.XXXXXX) && rm -f "$f"' sh "$1" 2>&1; }
out=$(probe /var/lib/licd) || fail "licd cannot write /var/lib/licd: $out"
ok "licd writes /var/lib/licd"
for dir in /etc/licd /etc /usr /usr/bin /usr/lib/licd/plugins /var/lib /var/log /var/cache /run /run/lock /dev/shm /home /root /srv /opt /; do
  if out=$(probe "$dir"); then fail "licd can write $dir"; fi
  ok "licd cannot write $dir: ${out##*: }"
done
out=$(as_licd_in_sandbox sh -c ': >> /etc/licd/licd.toml' 2>&1) && fail "licd can write /etc/licd/licd.toml"
ok "licd cannot write /etc/licd/licd.toml: ${out##*: }"
# (c) Its /tmp is its own: a file put there is not in the container's /tmp.
as_licd_in_sandbox sh -c 'echo probe > /tmp/licd-private-tmp-probe'
in_ct test -e /tmp/licd-private-tmp-probe && fail "the daemon's /tmp is the system's /tmp"
as_licd_in_sandbox rm -f /tmp/licd-private-tmp-probe
ok "/tmp and /var/tmp are private to the service (PrivateTmp=yes), emptied at stop"
score=$(in_ct systemd-analyze security licd --no-pager 2>/dev/null | sed -n 's/^→ Overall exposure level for licd.service: //p')
info "systemd-analyze security licd: ${score:-?}"
step_done

# --- summary ----------------------------------------------------------------------------

printf '\n==> All checks passed (package licd %s under %s in Debian %s)\n' "$VERSION" \
  "$(in_ct systemctl --version | sed -n 1p)" "$(in_ct cat /etc/debian_version)"
printf '%s\n' "${TIMES[@]}"
printf '%7.1f s  total\n' "$(since "$T_ALL")"
printf 'figures: boot %s s; dpkg -i to active %s s; restart %s s; start %s s; stop %s s; kill -9 to active %s s; SIGSTOP to active %s s\n' \
  "$BOOT_S" "$INSTALL_S" "$RESTART_S" "$START_S" "$STOP_S" "$KILL_S" "$WATCHDOG_S"
