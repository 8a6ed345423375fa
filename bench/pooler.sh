#!/usr/bin/env bash
# What PgBouncer costs (issue 16): GET /verify req/s at 64 connections (wrk +
# bench/verify.lua, as in bench/run.sh) with the service connected to
# PostgreSQL directly and through PgBouncer 1.18 in transaction pooling mode.
# Three rows, interleaved run by run because this shared machine drifts:
#   direct, prepared   the default (DB_PREPARED_STATEMENTS=true)
#   direct, unnamed    DB_PREPARED_STATEMENTS=false: the statements' own cost
#   PgBouncer          DB_PREPARED_STATEMENTS=false through the pooler
# Prints a markdown table (also written to $POOLER_OUT if set).
#
# Uses the project PostgreSQL (scripts/pg-local.sh, database signup_pooler,
# recreated) and starts its own PgBouncer and signup-api (ports
# POOLER_PORT_BASE, default 26150, and +1); everything it starts is stopped on
# exit. Accounts and tokens are written by SQL (no argon2: this measures the
# verify path only). Environment: POOLER_RUNS (3), POOLER_SECONDS (10),
# POOLER_CONNECTIONS (64), POOLER_TOKENS (20000), POOLER_POOL_SIZE (PgBouncer
# default_pool_size, 8: above the service's own pool of 2 x cores).
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_NAME=pooler
# shellcheck source=bench/lib.sh
. bench/lib.sh
PATH=$PATH:/usr/sbin

RUNS=${POOLER_RUNS:-3}
SECONDS_PER_RUN=${POOLER_SECONDS:-10}
CONNECTIONS=${POOLER_CONNECTIONS:-64}
N_TOKENS=${POOLER_TOKENS:-20000}
POOL_SIZE=${POOLER_POOL_SIZE:-8}
PORT_BASE=${POOLER_PORT_BASE:-26150}
API_PORT=$PORT_BASE
PGBOUNCER_PORT=$((PORT_BASE + 1))
DB_NAME=signup_pooler
WRK_THREADS=2
WORK=$(mktemp -d /tmp/signup-pooler.XXXXXX)
declare -a PIDS=()

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    stop_pid "$pid"
  done
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else log "failed (exit $rc); logs kept in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in wrk pgbouncer psql curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh; wrk: apt-get install wrk)"
done
for port in "$API_PORT" "$PGBOUNCER_PORT"; do
  if port_open "$port"; then die "port $port is already in use (set POOLER_PORT_BASE)"; fi
done

log "building (make, -O2)"
make -s all >"$WORK/make.log" 2>&1 || {
  cat "$WORK/make.log" >&2
  die "make failed"
}
scripts/pg-local.sh start >/dev/null
scripts/pg-local.sh recreate-db "$DB_NAME"
DIRECT_URL=$(scripts/pg-local.sh url "$DB_NAME")
PG_PORT=$(sed -E 's|.*@[^:]+:([0-9]+)/.*|\1|' <<<"$DIRECT_URL")
PG_PASSWORD=$(sed -E 's|^postgresql://[^:]+:([^@]+)@.*|\1|' <<<"$DIRECT_URL")
POOLED_URL="postgresql://signup:$PG_PASSWORD@127.0.0.1:$PGBOUNCER_PORT/$DB_NAME"
psql_db() { PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U signup -d "$DB_NAME" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# PgBouncer, as tests/cluster/run.sh runs it.
(umask 077 && printf '"signup" "%s"\n' "$PG_PASSWORD" >"$WORK/users.txt")
cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
$DB_NAME = host=127.0.0.1 port=$PG_PORT dbname=$DB_NAME
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/users.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 200
logfile =
pidfile =
EOF
chmod 0755 "$WORK" # pgbouncer -u postgres reads nothing here after start-up, but its log goes to our fd
if [ "$(id -u)" -eq 0 ]; then pgb=(pgbouncer -u postgres); else pgb=(pgbouncer); fi
"${pgb[@]}" "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
PGBOUNCER_PID=$!
PIDS+=("$PGBOUNCER_PID")
wait_port "$PGBOUNCER_PORT" "$PGBOUNCER_PID" pgbouncer
POSTMASTER_PID=$(head -1 "$(scripts/pg-local.sh dir)/data/postmaster.pid")

# CPU seconds (user + system) of one process, and of every PostgreSQL
# backend of the project cluster: what a request costs whatever else runs on
# this shared machine (its wall-clock rate drifts with the neighbours' load).
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / t}' "/proc/$1/stat"; }
pg_cpu() {
  local total=0 f
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue # a process that just exited
    rest=${line##*) }
    read -r -a w <<<"$rest"
    [ "${w[1]}" = "$POSTMASTER_PID" ] || continue
    total=$((total + w[11] + w[12]))
  done
  awk -v n="$total" -v t="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f\n", n / t}'
}

# The schema, by one start of the service (it migrates), then the tokens.
env PORT="$API_PORT" DATABASE_URL="$DIRECT_URL" build/signup-api >"$WORK/migrate.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_port "$API_PORT" "$pid" signup-api
stop_pid "$pid"
log "writing $N_TOKENS unverified accounts with a live verification token each"
psql_db -v n="$N_TOKENS" <<'EOF' >/dev/null
CREATE TABLE bench_raw AS
  SELECT g AS n, decode(md5(random()::text || g) || md5(g || random()::text), 'hex') AS raw
    FROM generate_series(1, :n) AS g;
INSERT INTO accounts (email, full_name, phone_number, password_hash, terms_version, terms_accepted_at)
  SELECT 'pooler-' || n || '@lintasarta.co.id', 'Pooler Bench', '+6281234567890',
         '$argon2id$v=19$m=19456,t=2,p=1$bench$bench', '2026-01', now() FROM bench_raw;
INSERT INTO verification_tokens (token_hash, account_id, expires_at)
  SELECT sha256(r.raw), a.id, now() + interval '1 day'
    FROM bench_raw r JOIN accounts a ON a.email = 'pooler-' || r.n || '@lintasarta.co.id';
VACUUM ANALYZE accounts;
VACUUM ANALYZE verification_tokens;
EOF
psql_db -c "SELECT rtrim(translate(encode(raw, 'base64'), '+/', '-_'), '=') FROM bench_raw ORDER BY n" >"$WORK/tokens.txt"

reset_verification() {
  psql_db -c 'UPDATE accounts SET email_verified_at = NULL WHERE email_verified_at IS NOT NULL' \
    -c 'UPDATE verification_tokens SET used_at = NULL WHERE used_at IS NOT NULL' \
    -c 'VACUUM ANALYZE accounts' -c 'VACUUM ANALYZE verification_tokens' >/dev/null
}

MODES=(direct_prepared direct_unnamed pgbouncer)
declare -A LABEL=([direct_prepared]="direct, prepared statements" [direct_unnamed]="direct, unnamed statements"
  [pgbouncer]="PgBouncer (transaction pooling), unnamed statements")
declare -A RPS P99 ERRS CPU_API CPU_PGB CPU_PG
for ((run = 1; run <= RUNS; run++)); do
  for mode in "${MODES[@]}"; do
    case $mode in
      direct_prepared) envs=(DATABASE_URL="$DIRECT_URL" DB_PREPARED_STATEMENTS=true) ;;
      direct_unnamed) envs=(DATABASE_URL="$DIRECT_URL" DB_PREPARED_STATEMENTS=false) ;;
      pgbouncer) envs=(DATABASE_URL="$POOLED_URL" DATABASE_DIRECT_URL="$DIRECT_URL" DB_PREPARED_STATEMENTS=false) ;;
    esac
    reset_verification
    env PORT="$API_PORT" BIND_ADDRESS=127.0.0.1 RATE_LIMITS_ENABLED=false MAIL_WORKERS=0 SHUTDOWN_GRACE_S=5 \
      "${envs[@]}" build/signup-api >"$WORK/server-$mode-$run.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "$API_PORT" "$pid" signup-api
    curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null || die "signup-api ($mode) not ready"
    log "run $run/$RUNS: $mode, $CONNECTIONS connections, $SECONDS_PER_RUN s"
    f=$WORK/wrk-$mode-$run.txt
    api0=$(cpu_of "$pid") pgb0=$(cpu_of "$PGBOUNCER_PID") pg0=$(pg_cpu)
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --timeout 30s --latency -s bench/verify.lua \
      "http://127.0.0.1:$API_PORT" -- "$WORK/tokens.txt" "$WRK_THREADS" >"$f" 2>&1
    api1=$(cpu_of "$pid") pgb1=$(cpu_of "$PGBOUNCER_PID") pg1=$(pg_cpu)
    stop_pid "$pid"
    n=$(field "$f" requests)
    CPU_API[$mode.$run]=$(awk -v a="$api0" -v b="$api1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')
    CPU_PGB[$mode.$run]=$(awk -v a="$pgb0" -v b="$pgb1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')
    CPU_PG[$mode.$run]=$(awk -v a="$pg0" -v b="$pg1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')
    RPS[$mode.$run]=$(field "$f" rps)
    P99[$mode.$run]=$(field "$f" p99_ms)
    ERRS[$mode.$run]=$(($(field "$f" non2xx) + $(field "$f" connect_err) + $(field "$f" read_err) +
      $(field "$f" write_err) + $(field "$f" timeouts)))
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

REPORT=$WORK/report.md
{
  echo "GET /verify at $CONNECTIONS connections, $SECONDS_PER_RUN s per run, $RUNS runs per row interleaved;"
  echo "$(nproc) cores, PostgreSQL $(psql_db -c 'SHOW server_version'), $(pgbouncer --version | head -1),"
  echo "DB_POOL_SIZE=0 (= $((2 * $(nproc)))), PgBouncer default_pool_size=$POOL_SIZE; commit $(git rev-parse --short HEAD);"
  echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (others' work shares this machine: compare rows, not runs)."
  echo
  printf '| Row |'
  for ((run = 1; run <= RUNS; run++)); do printf ' run %d req/s |' "$run"; done
  echo ' median req/s | ÷ direct, prepared | p99 ms (median) | errors | CPU µs per request: API / PgBouncer / PostgreSQL / total (medians) |'
  printf '|---|'
  for ((run = 1; run <= RUNS; run++)); do printf -- '---|'; done
  echo '---|---|---|---|---|'
  base=""
  for mode in "${MODES[@]}"; do
    rps=() p99=() errs=0 ca=() cb=() cp=() ct=()
    for ((run = 1; run <= RUNS; run++)); do
      ca+=("${CPU_API[$mode.$run]}")
      cb+=("${CPU_PGB[$mode.$run]}")
      cp+=("${CPU_PG[$mode.$run]}")
      ct+=("$(awk -v a="${CPU_API[$mode.$run]}" -v b="${CPU_PGB[$mode.$run]}" -v c="${CPU_PG[$mode.$run]}" 'BEGIN {print a + b + c}')")
      rps+=("${RPS[$mode.$run]}")
      p99+=("${P99[$mode.$run]}")
      errs=$((errs + ERRS[$mode.$run]))
    done
    med=$(median "${rps[@]}")
    [ -n "$base" ] || base=$med
    printf '| %s |' "${LABEL[$mode]}"
    for r in "${rps[@]}"; do printf ' %.0f |' "$r"; done
    printf ' **%.0f** | %s | %s | %d | %.0f / %.0f / %.0f / **%.0f** |\n' "$med" "$(ratio "$med" "$base")" \
      "$(median "${p99[@]}")" "$errs" "$(median "${ca[@]}")" "$(median "${cb[@]}")" "$(median "${cp[@]}")" \
      "$(median "${ct[@]}")"
  done
} >"$REPORT"
cat "$REPORT"
if [ -n "${POOLER_OUT:-}" ]; then cp "$REPORT" "$POOLER_OUT"; fi
