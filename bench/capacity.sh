#!/usr/bin/env bash
# The per-request costs behind docs/scaling.md (issue 16): for sign-up (with
# its email sent), verify, sign-in and GET /session, the CPU the API process,
# the mail worker and PostgreSQL spend per request, the statements PostgreSQL
# runs (pg_stat_statements) and the WAL it writes (pg_current_wal_lsn()
# deltas); and argon2id's CPU per hash on its own. CPU time, not wall time, so
# the figures hold on a machine others are using too.
#
# Runs its own throwaway PostgreSQL cluster (pg_stat_statements preloaded,
# trust on 127.0.0.1 only, port CAPACITY_PORT_BASE = 26160), signup-api (+1),
# a worker (--worker-only) and the SMTP sink (+2), all stopped and deleted on
# exit. Rate limits are on (as in production) with limits too high to trip;
# the worker wakes by NOTIFY only (no idle polls counted against requests).
# Environment: CAPACITY_N (300 requests per row).
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_NAME=capacity
# shellcheck source=bench/lib.sh
. bench/lib.sh

N=${CAPACITY_N:-300}
PORT_BASE=${CAPACITY_PORT_BASE:-26160}
PG_PORT=$PORT_BASE
API_PORT=$((PORT_BASE + 1))
SMTP_PORT=$((PORT_BASE + 2))
DB=capacity
WORK=$(mktemp -d /tmp/signup-capacity.XXXXXX)
PYTHON=/usr/bin/python3
declare -a PIDS=()

# As root the cluster runs as postgres, in a directory it can enter.
if [ "$(id -u)" -eq 0 ]; then
  PGDIR=$(mktemp -d /var/tmp/signup-capacity-pg.XXXXXX)
  chown postgres: "$PGDIR"
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
  PGDIR=$WORK/pg
  mkdir -p "$PGDIR"
  as_pg() { "$@"; }
fi
PGBIN=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -s stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else log "failed (exit $rc); logs kept in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for port in "$PG_PORT" "$API_PORT" "$SMTP_PORT"; do
  if port_open "$port"; then die "port $port is already in use (set CAPACITY_PORT_BASE)"; fi
done

log "building (make, -O2)"
make -s all >"$WORK/make.log" 2>&1 || {
  cat "$WORK/make.log" >&2
  die "make failed"
}
cc -O2 -Wall -Wextra -Iinclude -o "$WORK/argon2_ceiling" bench/argon2_ceiling.c auth/sodium_work_area.c \
  -largon2 -lsodium -pthread

as_pg "$PGBIN/initdb" -D "$PGDIR/data" --auth-local=peer --auth-host=trust --encoding=UTF8 --locale=C.UTF-8 \
  >"$WORK/initdb.log" 2>&1 || die "initdb failed (see $WORK/initdb.log)"
mkdir -p "$PGDIR/run"
[ "$(id -u)" -ne 0 ] || chown postgres: "$PGDIR/run"
as_pg tee -a "$PGDIR/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDIR/run'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -s start || die "PostgreSQL did not start"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=$DB
as_pg "$PGBIN/psql" -X -q -h "$PGDIR/run" -p "$PG_PORT" -d postgres -c "CREATE DATABASE $DB"
psql -X -q -c 'CREATE EXTENSION pg_stat_statements'
URL="postgresql://postgres@127.0.0.1:$PG_PORT/$DB"

mkdir -p "$WORK/mail"
MAIL_CATCHER_HOST=127.0.0.1 MAIL_CATCHER_PORT=$SMTP_PORT MAIL_CATCHER_DIR=$WORK/mail MAIL_CATCHER_PARSE=0 \
  "$PYTHON" -u scripts/mail-catcher.py >"$WORK/mail-catcher.log" 2>&1 &
PIDS+=("$!")
wait_port "$SMTP_PORT" "$!" mail-catcher

common=(DATABASE_URL="$URL" SMTP_HOST=127.0.0.1 SMTP_PORT="$SMTP_PORT" SMTP_TLS=off
  VERIFY_URL="http://127.0.0.1:$API_PORT/verify" SWEEP_INTERVAL=3600
  RATE_LIMITS_ENABLED=true RATE_LIMIT_SIGNUPS_PER_IP_HOUR=1000000 RATE_LIMIT_SIGNUPS_PER_EMAIL_HOUR=1000000
  SIGNIN_FAILURES_PER_CLIENT=1000000)
env "${common[@]}" PORT="$API_PORT" BIND_ADDRESS=127.0.0.1 MAIL_WORKERS=0 build/signup-api >"$WORK/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
wait_port "$API_PORT" "$API_PID" signup-api
env "${common[@]}" MAIL_WORKERS=1 OUTBOX_POLL_INTERVAL_MS=600000 build/signup-api --worker-only >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
PIDS+=("$WORKER_PID")
POSTMASTER_PID=$(head -1 "$PGDIR/data/postmaster.pid")

CAP_N=$N CAP_API=127.0.0.1:$API_PORT CAP_API_PID=$API_PID CAP_WORKER_PID=$WORKER_PID \
  CAP_POSTMASTER_PID=$POSTMASTER_PID CAP_MAIL_DIR=$WORK/mail CAP_ARGON2=$WORK/argon2_ceiling \
  "$PYTHON" -u - <<'PYEOF'
import concurrent.futures, email, email.policy, http.client, json, os, re, resource, subprocess, time

N = int(os.environ["CAP_N"])
HOST, PORT = os.environ["CAP_API"].split(":")
TICK = os.sysconf("SC_CLK_TCK")
MAIL_DIR = os.environ["CAP_MAIL_DIR"]
RUN = str(int(time.time()))

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK

def pg_cpu_s():
    total = 0.0
    pm = os.environ["CAP_POSTMASTER_PID"]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[1] == pm or p == pm:
                    total += (int(fields[11]) + int(fields[12])) / TICK
            except OSError:
                pass
    return total

def sql(q):
    return subprocess.run(["psql", "-X", "-At", "-F", "\t", "-c", q], capture_output=True, text=True,
                          check=True).stdout.strip()

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(HOST, int(PORT), timeout=60)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.status, r.read()
    c.close()
    return out

def snapshot():
    return {"lsn": sql("SELECT pg_current_wal_lsn()"), "api": cpu_s(os.environ["CAP_API_PID"]),
            "worker": cpu_s(os.environ["CAP_WORKER_PID"]), "pg": pg_cpu_s(),
            "xact": int(sql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))}

def measure(name, work, wait_mail=False):
    sql("SELECT pg_stat_statements_reset()")
    before = snapshot()
    ok = work()
    if wait_mail:
        while sql("SELECT count(*) FROM email_outbox WHERE status IN ('pending', 'sending')") != "0":
            time.sleep(0.2)
    time.sleep(0.5)  # the stats collector and pg_stat_statements catch up
    after = snapshot()
    wal = int(sql(f"SELECT pg_wal_lsn_diff('{after['lsn']}', '{before['lsn']}')"))
    rows = sql("""SELECT calls, query FROM pg_stat_statements
                   WHERE query !~* 'pg_stat|pg_current_wal_lsn|pg_wal_lsn_diff|xact_commit|email_outbox WHERE status IN'
                   ORDER BY calls DESC""").splitlines()
    calls = [(int(r.split("\t", 1)[0]), r.split("\t", 1)[1]) for r in rows if r]
    n_stmt = sum(c for c, _ in calls)
    res = {"name": name, "ok": ok, "stmts": n_stmt / N, "wal": wal / N,
           "xact": (after["xact"] - before["xact"]) / N,
           "api_ms": (after["api"] - before["api"]) * 1000 / N, "worker_ms": (after["worker"] - before["worker"]) * 1000 / N,
           "pg_ms": (after["pg"] - before["pg"]) * 1000 / N,
           "top": [(c / N, " ".join(q.split())[:90]) for c, q in calls[:8]]}
    return res

emails = [f"cap{RUN}-{i}@lintasarta.co.id" for i in range(N)]
body = lambda e: {"full_name": "Capacity Bench", "email": e, "password": "Str0ng!Pass-7",
                  "phone_number": "0812-3456-7890", "accept_terms": True}

def do_signups():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        st = list(ex.map(lambda e: call("POST", "/signup", body(e))[0], emails))
    return st.count(201)

tokens = {}
def read_tokens():
    for name in sorted(os.listdir(MAIL_DIR)):
        if name.endswith(".eml"):
            with open(os.path.join(MAIL_DIR, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    m = re.search(r"token=([A-Za-z0-9_-]{43})", part.get_content())
                    if m:
                        tokens[name] = m.group(1)
    return list(tokens.values())

def do_verify():
    toks = read_tokens()[:N]
    return sum(1 for t in toks if call("GET", "/verify?token=" + t)[0] == 200)

sessions = []
def do_signin():
    n = 0
    for e in emails:
        st, b = call("POST", "/signin", {"email": e, "password": "Str0ng!Pass-7"})
        if st == 200:
            sessions.append(json.loads(b)["session_token"])
            n += 1
    return n

def do_session():
    return sum(1 for s in sessions if call("GET", "/session", headers={"Authorization": "Bearer " + s})[0] == 200)

results = [measure("sign-up (with its email sent)", do_signups, wait_mail=True),
           measure("verify (first click)", do_verify),
           measure("sign-in (right password)", do_signin),
           measure("GET /session", do_session)]

# argon2id alone: CPU per hash at the service's parameters, one thread.
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
# The service's default backend (PASSWORD_HASH_BACKEND=libsodium, work area kept).
out = subprocess.run([os.environ["CAP_ARGON2"], "5", "1", "19456", "2", "libsodium"], capture_output=True, text=True,
                     check=True).stdout
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
kv = dict(l.split("=", 1) for l in out.split() if "=" in l)
# It also hashes 21 times (a warm-up and 20 single-hash timings) before the run.
hashes = float(kv["hashes"]) + 21
a2_ms = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000 / hashes

print(f"{N} requests per row, sequential except sign-up (2 at a time); CPU from /proc (all threads), "
      f"PostgreSQL = every backend of the cluster; statements the service sends (pg_stat_statements, track = top: "
      f"foreign-key checks and the outbox trigger's pg_notify run inside them).\n")
print("| Request | answered OK | API CPU ms | worker CPU ms | PostgreSQL CPU ms | statements | transactions | WAL bytes |")
print("|---|---|---|---|---|---|---|---|")
for r in results:
    print(f"| {r['name']} | {r['ok']}/{N} | {r['api_ms']:.1f} | {r['worker_ms']:.1f} | {r['pg_ms']:.2f} | "
          f"{r['stmts']:.1f} | {r['xact']:.1f} | {r['wal']:.0f} |")
print(f"\nargon2id m=19456 KiB, t=2, p=1 alone (bench/argon2_ceiling, libsodium, 1 thread, 5 s): {a2_ms:.1f} CPU ms per hash "
      f"({kv.get('hashes_per_s')} hashes/s on that thread).\n")
for r in results:
    print(f"Statements per {r['name']}:")
    for c, q in r["top"]:
        print(f"  {c:5.2f} × {q}")
PYEOF
