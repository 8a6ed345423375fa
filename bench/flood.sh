#!/usr/bin/env bash
# The slow-client flood of issue 15 at full size (`make bench-flood`, or run
# it on its own): signup-api with its default configuration, bound to
# 127.0.0.1, holds 10,000 slow connections from 100 addresses (127.0.1.1-100)
# and 1,000 from one greedy address (127.0.1.250), each sending part of a
# request and then one byte every 5 s, reopened 1 s after the server closes
# it, for 40 s after a 5 s ramp; meanwhile legitimate clients (a new
# connection each, from 127.0.2-9.x, alternating GET /healthz and a valid
# POST /signup) time every answer. Prints the figures and checks the goals:
# legitimate success >= 99 %, p99 < 250 ms, peak RSS < 512 MiB, the server
# still serving at the end. Exits 1 when a goal is missed.
#
# Environment: FLOOD_PORT (18710), FLOOD_SLOW_ADDRESSES (100),
# FLOOD_SLOW_PER_ADDRESS (100), FLOOD_GREEDY (1000), FLOOD_DRIP_MS (5000),
# FLOOD_RAMP_MS (5000), FLOOD_HOLD_MS (40000), FLOOD_RECONNECT_MS (1000),
# FLOOD_LEGIT_THREADS (2), FLOOD_LEGIT_PAUSE_MS (100), and any signup-api
# variable (README "Configuration") to try another configuration. Uses the
# project PostgreSQL (scripts/pg-local.sh, database signup_flood, recreated).
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_NAME=flood
# shellcheck source=bench/lib.sh
. bench/lib.sh

PORT=${FLOOD_PORT:-18710}
SLOW_ADDRESSES=${FLOOD_SLOW_ADDRESSES:-100}
SLOW_PER_ADDRESS=${FLOOD_SLOW_PER_ADDRESS:-100}
GREEDY=${FLOOD_GREEDY:-1000}
DRIP_MS=${FLOOD_DRIP_MS:-5000}
RAMP_MS=${FLOOD_RAMP_MS:-5000}
HOLD_MS=${FLOOD_HOLD_MS:-40000}
RECONNECT_MS=${FLOOD_RECONNECT_MS:-1000}
LEGIT_THREADS=${FLOOD_LEGIT_THREADS:-2}
LEGIT_PAUSE_MS=${FLOOD_LEGIT_PAUSE_MS:-100}
GOAL_SUCCESS_PCT=99
GOAL_P99_MS=250
GOAL_RSS_MIB=512
DB_NAME=signup_flood

WORK=$(mktemp -d /tmp/signup-flood.XXXXXX)
SERVER_PID=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every client socket is a file descriptor of the load generator, and one of
# the server (which raises its own soft limit to the hard one, as this does);
# the limit is per process.
ulimit -Sn "$(ulimit -Hn)"
needed=$((SLOW_ADDRESSES * SLOW_PER_ADDRESS + GREEDY + 1024))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$needed" ] ||
  die "ulimit -n is $(ulimit -n); each of the server and the load generator needs $needed (raise the hard limit)"

log "building (make, -O2) and the load generator"
make -s all >"$WORK/make.log" 2>&1 || {
  cat "$WORK/make.log" >&2
  die "make failed"
}
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pthread -Itests \
  -o "$WORK/flood_load" bench/flood_load.c tests/flood_support.c
scripts/pg-local.sh start >/dev/null
scripts/pg-local.sh recreate-db "$DB_NAME"
DB_URL=$(scripts/pg-local.sh url "$DB_NAME")
if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
  die "port $PORT is in use (set FLOOD_PORT)"
fi

# The default configuration; MAIL_WORKERS=0 because no SMTP server runs here
# (the workers do not touch HTTP).
env PORT="$PORT" DATABASE_URL="$DB_URL" MAIL_WORKERS=0 build/signup-api >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "signup-api exited at start-up (see $WORK/server.log)"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || die "signup-api not ready (see $WORK/server.log)"
MAX_CONNECTIONS=$(grep -o '"max_connections":"[0-9]*"' "$WORK/server.log" | head -1 | grep -o '[0-9]*')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

log "$((SLOW_ADDRESSES * SLOW_PER_ADDRESS)) slow connections from $SLOW_ADDRESSES addresses + $GREEDY from one," \
  "a byte every $DRIP_MS ms, ramp $RAMP_MS ms + hold $HOLD_MS ms; $LEGIT_THREADS legitimate clients"
"$WORK/flood_load" port="$PORT" server_pid="$SERVER_PID" slow_addresses="$SLOW_ADDRESSES" \
  slow_per_address="$SLOW_PER_ADDRESS" greedy="$GREEDY" drip_ms="$DRIP_MS" ramp_ms="$RAMP_MS" hold_ms="$HOLD_MS" \
  reconnect_ms="$RECONNECT_MS" legit_threads="$LEGIT_THREADS" legit_pause_ms="$LEGIT_PAUSE_MS" \
  >"$WORK/result.json"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
AFTER=$(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' "http://127.0.0.1:$PORT/healthz" || echo "no answer")
ALIVE=no
kill -0 "$SERVER_PID" 2>/dev/null && ALIVE=yes
kill -TERM "$SERVER_PID"
EXIT_STATUS=0
wait "$SERVER_PID" || EXIT_STATUS=$?
SERVER_PID=

# What the server shed, summed over its connections_shed lines.
SHED=$(python3 - "$WORK/server.log" <<'EOF'
import json, sys
totals = {}
for line in open(sys.argv[1]):
    if '"connections_shed"' in line:
        for k, v in json.loads(line).items():
            if k.startswith(("refused", "cut")):
                totals[k] = totals.get(k, 0) + int(v)
print(", ".join(f"{k} {v}" for k, v in totals.items()) or "nothing")
EOF
)

python3 - "$WORK/result.json" "$GOAL_SUCCESS_PCT" "$GOAL_P99_MS" "$GOAL_RSS_MIB" "$ALIVE" "$AFTER" \
  "$EXIT_STATUS" "$MAX_CONNECTIONS" "$LOAD_BEFORE" "$LOAD_AFTER" "$SHED" "$(nproc)" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
goal_success, goal_p99, goal_rss = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
alive, after, exit_status, max_conn, load_before, load_after, shed, cores = sys.argv[5:13]
legit, hold, slow, greedy, server = r["legit"], r["hold"], r["slow"], r["greedy"], r["server"]
rss_mib = max(server["vm_hwm_kib"], server["peak_rss_kib_sampled"]) / 1024
# The goal is about the flood held; the ramp (11,000 connections opened in
# 5 s) is shown beside it.
checks = [
    ("legitimate success (hold)", f'{hold["success_pct"]:.2f} % of {hold["requests"]} (whole run {legit["success_pct"]:.2f} %)',
     f">= {goal_success:.0f} %", hold["success_pct"] >= goal_success),
    ("legitimate p99 (hold)", f'{hold["p99_ms"]:.0f} ms (whole run {legit["p99_ms"]:.0f}: healthz {legit["healthz_p99_ms"]:.0f}, '
     f'sign-up {legit["signup_p99_ms"]:.0f})', f"< {goal_p99:.0f} ms", hold["p99_ms"] < goal_p99),
    ("server peak RSS", f"{rss_mib:.0f} MiB", f"< {goal_rss:.0f} MiB", rss_mib < goal_rss),
    ("serving at the end", f"{alive}, GET /healthz {after}, exit {exit_status}", "alive, 200, exit 0",
     alive == "yes" and after.startswith("200") and exit_status == "0"),
]
print(f"\nflood: {cores} cores, load average {load_before} before, {load_after} after; MAX_CONNECTIONS={max_conn} (default)")
rate = legit['requests'] / (r['duration_ms'] / 1000)
print(f"flood: legitimate: {legit['requests']} requests ({legit['healthz']} healthz, {legit['signups']} sign-ups, "
      f"{rate:.1f}/s), "
      f"p50 {legit['p50_ms']:.0f} ms, p90 {legit['p90_ms']:.0f} ms, max {legit['max_ms']:.0f} ms"
      + (f"; first failure: {legit['first_failure']}" if legit["first_failure"] else ""))
for name, s in (("slow", slow), ("greedy", greedy)):
    print(f"flood: {name}: {s['opened']} connects, held {s['held_min']}-{s['held_max']} (mean {s['held_mean']:.0f}), "
          f"closed unanswered {s['closed_silent']}, answered {s['answered']} (503: {s['answered_503']}), "
          f"connect failed {s['connect_failed']}")
print(f"flood: server: peak threads {server['peak_threads']}, CPU {server['cpu_s']:.1f} s; shed: {shed}\n")
width = max(len(c[0]) for c in checks)
for name, got, goal, ok in checks:
    print(f"  {'PASS' if ok else 'FAIL'}  {name:<{width}}  {got}  (goal {goal})")
sys.exit(0 if all(c[3] for c in checks) else 1)
EOF
