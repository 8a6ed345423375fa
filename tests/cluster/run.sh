#!/usr/bin/env bash
# `make test-cluster` (issue 16): the service scaled out on one machine, with
# the real deployment parts in front of it, then driven through faults by
# tests/cluster/cluster.py. Started here, stopped again on exit:
#
#   PostgreSQL  scripts/pg-local.sh (PG_LOCAL_PORT), database signup_cluster,
#               recreated each run; left running if it was running before
#   PgBouncer   127.0.0.1:$CLUSTER_PGBOUNCER_PORT, pool_mode = transaction,
#               scram-sha-256 against a userlist in the work directory
#   3 API nodes 127.0.0.2, .3, .4 : $CLUSTER_API_PORT, MAIL_WORKERS=0,
#               DB_PREPARED_STATEMENTS=false, DATABASE_URL via PgBouncer,
#               DATABASE_DIRECT_URL direct (migration lock), TRUSTED_PROXIES=127.0.0.1
#   2 workers   signup-api --worker-only, via PgBouncer, LISTEN on the direct URL
#   SMTP sink   scripts/mail-catcher.py on 127.0.0.1:$CLUSTER_SMTP_PORT
#   nginx       127.0.0.1:$CLUSTER_NGINX_PORT, round robin over the three nodes
#
#   slow relay  tests/cluster/slow_relay.py on 127.0.0.1:$CLUSTER_RELAY_PORT, 20 ms
#               per SMTP reply, between worker 1 and the sink (so it is always
#               mid-batch when the test kills it)
#
# Ports (environment, defaults): CLUSTER_PGBOUNCER_PORT 26101, CLUSTER_API_PORT
# 26110, CLUSTER_NGINX_PORT 26120, CLUSTER_SMTP_PORT 26130, CLUSTER_RELAY_PORT
# 26131. Logs, configs and
# the sink's .eml files stay in build/cluster/ after the run.
# CLUSTER_BIN selects the server binary (default build/signup-api; e.g.
# build/asan/signup-api, built by `make BUILD=build/asan OPT="-O1 -g"
# SAN="-fsanitize=address,undefined ..." build/asan/signup-api`).
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

PGBOUNCER_PORT=${CLUSTER_PGBOUNCER_PORT:-26101}
API_PORT=${CLUSTER_API_PORT:-26110}
NGINX_PORT=${CLUSTER_NGINX_PORT:-26120}
SMTP_PORT=${CLUSTER_SMTP_PORT:-26130}
RELAY_PORT=${CLUSTER_RELAY_PORT:-26131}
NODE_ADDRESSES=(127.0.0.2 127.0.0.3 127.0.0.4)
BIN=${CLUSTER_BIN:-$ROOT/build/signup-api}
DB_NAME=signup_cluster
# Small on purpose: the test waits for a killed worker's lease to run out.
LEASE_S=10
WORK=$ROOT/build/cluster
PYTHON=/usr/bin/python3

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

declare -a PIDS=()
pg_started=0

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  # Reverse order: the balancer first, the database last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[i]}"
  done
  PIDS=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ "$pg_started" = 1 ]; then
    scripts/pg-local.sh stop >/dev/null 2>&1 || true
  fi
  if [ "$rc" -ne 0 ]; then
    log "failed (exit $rc); logs in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { # port_open <address> <port>
  # shellcheck disable=SC2016
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' port-check "$1" "$2" 2>/dev/null
}

wait_port() { # wait_port <address> <port> <pid> <what>
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$3" 2>/dev/null || die "$4 exited during start-up (see $WORK)"
    port_open "$1" "$2" && return 0
    sleep 0.1
  done
  die "$4 did not listen on $1:$2 within 30 s"
}

# --- packages, binary, ports -----------------------------------------------------

PATH=$PATH:/usr/sbin # pgbouncer and nginx live there
for tool in pgbouncer nginx curl psql; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || die "$PYTHON cannot import aiosmtpd (scripts/install-deps.sh)"
[ -x "$BIN" ] || die "$BIN is missing (run make)"
for p in "127.0.0.1 $PGBOUNCER_PORT" "127.0.0.1 $NGINX_PORT" "127.0.0.1 $SMTP_PORT" "127.0.0.1 $RELAY_PORT" \
  "${NODE_ADDRESSES[0]} $API_PORT" "${NODE_ADDRESSES[1]} $API_PORT" "${NODE_ADDRESSES[2]} $API_PORT"; do
  # shellcheck disable=SC2086 # two words on purpose
  if port_open $p; then die "${p/ /:} is already in use (set CLUSTER_*_PORT)"; fi
done

rm -rf "$WORK"
mkdir -p "$WORK/mail" "$WORK/nginx/tmp"
chmod 0700 "$WORK"

# --- PostgreSQL ------------------------------------------------------------------

if ! scripts/pg-local.sh status >/dev/null 2>&1; then
  pg_started=1
fi
scripts/pg-local.sh start >/dev/null
scripts/pg-local.sh recreate-db "$DB_NAME"
DIRECT_URL=$(scripts/pg-local.sh url "$DB_NAME")
PG_PORT=$(sed -E 's|.*@[^:]+:([0-9]+)/.*|\1|' <<<"$DIRECT_URL")
PG_PASSWORD=$(sed -E 's|^postgresql://[^:]+:([^@]+)@.*|\1|' <<<"$DIRECT_URL")
POOLED_URL="postgresql://signup:$PG_PASSWORD@127.0.0.1:$PGBOUNCER_PORT/$DB_NAME"

# --- PgBouncer -------------------------------------------------------------------

# The userlist holds the password in plain text: PgBouncer needs it to log in
# to PostgreSQL with SCRAM on the client's behalf (a SCRAM secret would only let
# it check clients). Mode 0600 in a 0700 directory.
(umask 077 && printf '"signup" "%s"\n' "$PG_PASSWORD" >"$WORK/pgbouncer-users.txt")
cat >"$WORK/pgbouncer.ini" <<EOF
; Written by tests/cluster/run.sh. See docs/scaling.md for each choice.
[databases]
$DB_NAME = host=127.0.0.1 port=$PG_PORT dbname=$DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/pgbouncer-users.txt
pool_mode = transaction
; Fewer server connections than the 3 x 4 + 2 x 2 client connections: the
; pooler multiplexes them.
default_pool_size = 8
max_client_conn = 200
; After a PostgreSQL restart: retry the login every second (default 15 s), and
; let a query wait for a server connection at most 5 s (default 120 s) so the
; nodes answer 503 instead of hanging while the database is down.
server_login_retry = 1
query_wait_timeout = 5
logfile =
pidfile =
EOF
if [ "$(id -u)" -eq 0 ]; then
  # PgBouncer refuses to run as root; -u drops to postgres after it has read
  # its files here (postgres cannot enter this checkout).
  pgbouncer_cmd=(pgbouncer -u postgres "$WORK/pgbouncer.ini")
else
  pgbouncer_cmd=(pgbouncer "$WORK/pgbouncer.ini")
fi
"${pgbouncer_cmd[@]}" >"$WORK/pgbouncer.log" 2>&1 &
PIDS+=("$!")
wait_port 127.0.0.1 "$PGBOUNCER_PORT" "$!" pgbouncer

# --- SMTP sink -------------------------------------------------------------------

MAIL_CATCHER_HOST=127.0.0.1 MAIL_CATCHER_PORT=$SMTP_PORT MAIL_CATCHER_DIR=$WORK/mail MAIL_CATCHER_PARSE=0 \
  "$PYTHON" -u scripts/mail-catcher.py >"$WORK/mail-catcher.log" 2>&1 &
PIDS+=("$!")
wait_port 127.0.0.1 "$SMTP_PORT" "$!" mail-catcher
"$PYTHON" -u tests/cluster/slow_relay.py "$RELAY_PORT" "$SMTP_PORT" 20 >"$WORK/slow-relay.log" 2>&1 &
PIDS+=("$!")
wait_port 127.0.0.1 "$RELAY_PORT" "$!" slow-relay

# --- API nodes and workers -------------------------------------------------------

if [[ $BIN == *asan* ]]; then
  # As scripts/test.sh runs the sanitizer build: a report fails the run (below).
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=23"
  export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

# Everything both kinds of process share. Sign-up limits are on and small, so
# the test can show they hold across nodes; the load phases spread their
# sign-ups over many client addresses to stay under them.
common_env=(
  DATABASE_URL="$POOLED_URL" DATABASE_DIRECT_URL="$DIRECT_URL" DB_PREPARED_STATEMENTS=false
  SMTP_HOST=127.0.0.1 SMTP_TLS=off
  VERIFY_URL="http://127.0.0.1:$NGINX_PORT/verify"
  RATE_LIMITS_ENABLED=true RATE_LIMIT_SIGNUPS_PER_IP_HOUR=5 RATE_LIMIT_SIGNUPS_PER_EMAIL_HOUR=3
  OUTBOX_LEASE_S="$LEASE_S" OUTBOX_POLL_INTERVAL_MS=1000 OUTBOX_BATCH_SIZE=10
  SHUTDOWN_GRACE_S=5
)

NODE_PIDS=()
for i in "${!NODE_ADDRESSES[@]}"; do
  # All three migrate at once: the advisory lock (on the direct URL) lets one.
  env "${common_env[@]}" SMTP_PORT="$SMTP_PORT" PORT="$API_PORT" BIND_ADDRESS="${NODE_ADDRESSES[i]}" MAIL_WORKERS=0 \
    TRUSTED_PROXIES=127.0.0.1 "$BIN" >"$WORK/node$((i + 1)).log" 2>&1 &
  PIDS+=("$!")
  NODE_PIDS+=("$!")
  disown "$!" # the test kills one with SIGKILL: no "Killed" notice from bash
done
WORKER_PIDS=()
WORKER_SMTP_PORTS=("$RELAY_PORT" "$SMTP_PORT") # worker 1 (the one the test kills) sends through the slow relay
for i in 1 2; do
  env "${common_env[@]}" SMTP_PORT="${WORKER_SMTP_PORTS[i - 1]}" MAIL_WORKERS=2 "$BIN" --worker-only \
    >"$WORK/worker$i.log" 2>&1 &
  PIDS+=("$!")
  WORKER_PIDS+=("$!")
  disown "$!"
done
for i in "${!NODE_ADDRESSES[@]}"; do
  wait_port "${NODE_ADDRESSES[i]}" "$API_PORT" "${NODE_PIDS[i]}" "node $((i + 1))"
  curl -fsS "http://${NODE_ADDRESSES[i]}:$API_PORT/readyz" >/dev/null || die "node $((i + 1)) is not ready"
done

# --- nginx -----------------------------------------------------------------------

upstreams=""
for a in "${NODE_ADDRESSES[@]}"; do
  upstreams+="    server $a:$API_PORT max_fails=1 fail_timeout=10s;"$'\n'
done
cat >"$WORK/nginx/nginx.conf" <<EOF
# Written by tests/cluster/run.sh; docs/scaling.md explains each choice.
daemon off;
worker_processes 1;  # one round-robin state, so consecutive requests change node
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log notice;
events { worker_connections 1024; }
http {
    log_format cluster '\$remote_addr "\$request" \$status upstream=\$upstream_addr '
                       'upstream_status=\$upstream_status time=\$request_time';
    access_log $WORK/nginx/access.log cluster;
    # Bodies and answers stay in memory (the workers run as nobody, who
    # cannot enter this directory); the API itself answers 413 past 16 KiB.
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;

    upstream signup_api {
$upstreams    }

    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://signup_api;
            # The nodes trust 127.0.0.1 (TRUSTED_PROXIES): connect from it.
            proxy_bind 127.0.0.1;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            # A node that refuses or does not answer the connection is skipped.
            # A request already sent is not re-sent elsewhere (no
            # non_idempotent): a sign-up or sign-in whose node died may have
            # committed, and the client, not the balancer, decides to retry.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            # For the test only: which node answered.
            add_header X-Upstream \$upstream_addr always;
        }
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx/stderr.log" 2>&1 &
PIDS+=("$!")
wait_port 127.0.0.1 "$NGINX_PORT" "$!" nginx

log "up: PostgreSQL :$PG_PORT, PgBouncer :$PGBOUNCER_PORT, nodes ${NODE_ADDRESSES[*]} :$API_PORT," \
  "2 workers, sink :$SMTP_PORT, nginx :$NGINX_PORT; work directory $WORK"

# --- the scenarios ---------------------------------------------------------------

# psql in the driver reads the direct connection from the PG* variables, so
# the password is on no command line.
CLUSTER_NGINX=127.0.0.1:$NGINX_PORT \
  CLUSTER_NODES="${NODE_ADDRESSES[*]/%/:$API_PORT}" \
  CLUSTER_NODE_PIDS="${NODE_PIDS[*]}" \
  CLUSTER_WORKER_PIDS="${WORKER_PIDS[*]}" \
  CLUSTER_WORKER_LOGS="$WORK/worker1.log $WORK/worker2.log" \
  CLUSTER_MAIL_DIR=$WORK/mail \
  CLUSTER_LEASE_S=$LEASE_S \
  CLUSTER_POLL_S=1 \
  CLUSTER_PG_CTL="$ROOT/scripts/pg-local.sh" \
  PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=signup PGPASSWORD=$PG_PASSWORD PGDATABASE=$DB_NAME \
  "$PYTHON" -u tests/cluster/cluster.py || rc=$?

# Stopped first: a sanitizer build (CLUSTER_BIN=build/asan/signup-api)
# reports leaks when a process exits, on stderr.
stop_all
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$WORK"/node*.log "$WORK"/worker*.log; then
  grep -E -A 20 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$WORK"/node*.log "$WORK"/worker*.log |
    head -60 >&2
  die "sanitizer reports in $WORK/node*.log / worker*.log"
fi
exit "${rc:-0}"
