#!/usr/bin/env bash
# A project-local PostgreSQL cluster for development and tests.
#
#   scripts/pg-local.sh start                 initdb if needed, start, ensure role+db "signup"
#   scripts/pg-local.sh stop                  fast shutdown (quiet, idempotent)
#   scripts/pg-local.sh status                exit 0 if running, 3 if not
#   scripts/pg-local.sh url [db]              libpq URI for the app role (default db: signup)
#   scripts/pg-local.sh recreate-db <name>    drop (FORCE) and create <name>, owned by signup
#   scripts/pg-local.sh psql [db] [args...]   psql as the app role (default db: signup)
#   scripts/pg-local.sh dir                   print the cluster's directory (data, socket)
#
# Where things live. PostgreSQL refuses to run as root, so when this script runs as
# root the server runs as the "postgres" system user (Debian's postgresql package).
# That user cannot enter a checkout under a 0700 directory (root's home, mktemp -d),
# so as root the cluster lives outside the checkout, in a directory of its own per
# checkout, under a world-traversable base:
#   /var/tmp/signup-api-pg/<hash of the checkout's path>/   (postgres, 0700)
#       data/  the cluster    run/  unix socket    postgres.log  server log
#       checkout  the path of the checkout it belongs to
# ($PG_LOCAL_BASE overrides /var/tmp/signup-api-pg.) What a person needs stays in
# var/ of the checkout: var/log/postgres.log (a symlink to the server log) and the
# app password var/pg/app-password (root, 0600).
# Not as root, the server runs as the current user, who owns the checkout, so
# everything stays in var/: data var/pg/data, socket var/pg/run, log var/log/postgres.log.
# Moving a checkout gives it a new, empty cluster. A cluster from before this layout
# (var/pg/data as root) is no longer used: start prints how to delete it, and stop
# also stops it if it runs on $PG_LOCAL_PORT.
# Port: $PG_LOCAL_PORT (default 55432), listening on 127.0.0.1 only.
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
VAR=$ROOT/var
LOG_DIR=$VAR/log
VAR_LOG=$LOG_DIR/postgres.log
LOCK=$VAR/run/pg-local.lock
PASSWORD_FILE=$VAR/pg/app-password
HOST=127.0.0.1
PORT=${PG_LOCAL_PORT:-55432}
APP_ROLE=signup
APP_DB=signup
START_TIMEOUT=60

die() {
  printf 'pg-local: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
  die "PG_LOCAL_PORT must be a TCP port number, got '$PORT'"
fi
PORT=$((10#$PORT))

# --- who runs the server ---------------------------------------------------------

if [ "$(id -u)" -eq 0 ]; then
  AS_ROOT=1
  SERVER_USER=postgres
  RUNUSER=$(command -v runuser || echo /usr/sbin/runuser)
  # Run a command as the server user, from a directory it can surely enter.
  as_server() { (cd / && "$RUNUSER" -u "$SERVER_USER" -- "$@"); }
else
  AS_ROOT=0
  SERVER_USER=$(id -un 2>/dev/null) || die "the current uid $(id -u) has no user name (needed for peer authentication)"
  as_server() { "$@"; }
fi

# --- where the cluster lives (see the top of this file) ---------------------------

if [ "$AS_ROOT" = 1 ]; then
  PG_BASE=${PG_LOCAL_BASE:-/var/tmp/signup-api-pg}
  [[ $PG_BASE == /* ]] || die "PG_LOCAL_BASE must be an absolute path, got '$PG_BASE'"
  PG_DIR=$PG_BASE/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  LOG=$PG_DIR/postgres.log
else
  PG_BASE=
  PG_DIR=$VAR/pg
  LOG=$VAR_LOG
fi
DATA=$PG_DIR/data
SOCK_DIR=$PG_DIR/run
OLD_DATA=$VAR/pg/data # as root, the cluster's place before it moved to $PG_DIR

require_server_user() {
  if [ "$AS_ROOT" = 1 ]; then
    getent passwd "$SERVER_USER" >/dev/null \
      || die "running as root but there is no '$SERVER_USER' system user (is the postgresql package installed? run scripts/install-deps.sh)"
    [ -x "$RUNUSER" ] || die "runuser not found (util-linux)"
  fi
}

# --- binaries --------------------------------------------------------------------

# Prefer the version the existing cluster was created with; else the newest installed.
find_bindir() {
  local ver newest
  if [ -r "$DATA/PG_VERSION" ]; then
    ver=$(<"$DATA/PG_VERSION")
    if [ -x "/usr/lib/postgresql/$ver/bin/pg_ctl" ]; then
      PGBIN=/usr/lib/postgresql/$ver/bin
      return
    fi
  fi
  newest=$(printf '%s\n' /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)
  [ -x "$newest" ] || die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (run scripts/install-deps.sh)"
  PGBIN=$(dirname "$newest")
}
find_bindir

# --- helpers ---------------------------------------------------------------------

# As root, the postgres user must be able to reach $PG_DIR through every parent dir
# (only fails if PG_LOCAL_BASE points somewhere like a 0700 home).
check_traversable() {
  local target=$1 d blocked=""
  if "$RUNUSER" -u "$SERVER_USER" -- test -x "$target" 2>/dev/null; then
    return 0
  fi
  d=$target
  while :; do
    if ! "$RUNUSER" -u "$SERVER_USER" -- test -x "$d" 2>/dev/null; then
      blocked=$d
    fi
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
  die "the '$SERVER_USER' user cannot traverse ${blocked:-$target} ($(stat -c '%A %U:%G' "${blocked:-$target}")).
  PostgreSQL runs as '$SERVER_USER' and needs search (x) permission on every directory
  above $PG_DIR. Set PG_LOCAL_BASE to a world-traversable directory (default /var/tmp/signup-api-pg)."
}

# As root: the base must be a real directory that only root can write to (it is in
# world-writable /var/tmp, where anyone could have created it first).
check_base() {
  local st
  st=$(stat -c '%u %a' "$PG_BASE")
  if [ -L "$PG_BASE" ] || [ ! -d "$PG_BASE" ] || [ "${st%% *}" != 0 ] || (((8#${st#* } & 8#022) != 0)); then
    die "$PG_BASE must be a directory owned by root and writable only by root ($(stat -c '%A %U:%G' "$PG_BASE")); delete it or set PG_LOCAL_BASE"
  fi
}

# As root: the per-checkout directory must belong to this checkout.
check_checkout_file() {
  local owner
  [ -e "$PG_DIR/checkout" ] || return 0
  owner=$(<"$PG_DIR/checkout")
  [ "$owner" = "$ROOT" ] || die "$PG_DIR belongs to the checkout $owner, not $ROOT (hash collision?); set PG_LOCAL_BASE"
}

check_owner() {
  local owner
  if [ -e "$DATA" ]; then
    owner=$(stat -c %U "$DATA")
    if [ "$owner" != "$SERVER_USER" ]; then
      die "$DATA belongs to '$owner' but this invocation would run the server as '$SERVER_USER'.
  Run this script as the same user as before (root => postgres), or stop the cluster and delete $PG_DIR."
    fi
  fi
}

check_socket_path() {
  local sock="$SOCK_DIR/.s.PGSQL.$PORT"
  if [ "${#sock}" -gt 107 ]; then
    die "unix socket path too long (${#sock} > 107 bytes): $sock; use a checkout with a shorter path"
  fi
}

prepare_dirs() {
  require_server_user
  mkdir -p "$VAR/pg" "$LOG_DIR" "$VAR/run"
  if [ "$AS_ROOT" = 1 ]; then
    mkdir -p "$PG_BASE"
    check_base
    chmod 0755 "$PG_BASE"
    mkdir -p "$PG_DIR"
    check_checkout_file
    printf '%s\n' "$ROOT" >"$PG_DIR/checkout"
    mkdir -p "$SOCK_DIR"
    touch "$LOG"
    chown "$SERVER_USER:" "$PG_DIR" "$SOCK_DIR" "$LOG"
    chmod 0700 "$PG_DIR" "$SOCK_DIR"
    chmod 0640 "$LOG"
    check_traversable "$PG_DIR"
    # A person looks in var/log; root can read through the symlink. A real file
    # there is the old layout's log: keep it (an old server may still write to it).
    if [ -f "$VAR_LOG" ] && [ ! -L "$VAR_LOG" ]; then
      mv -f "$VAR_LOG" "$LOG_DIR/postgres-old.log"
    fi
    if [ "$(readlink "$VAR_LOG" 2>/dev/null)" != "$LOG" ]; then
      ln -sfn "$LOG" "$VAR_LOG"
    fi
  else
    mkdir -p "$SOCK_DIR"
    chmod 0700 "$SOCK_DIR"
    touch "$LOG"
  fi
  check_owner
  check_socket_path
}

# As root: a cluster in var/pg/data is from before the move to $PG_DIR.
note_old_cluster() {
  [ "$AS_ROOT" = 1 ] && [ -d "$OLD_DATA" ] || return 0
  printf '%s\n' "pg-local: note: $OLD_DATA is an old cluster, no longer used (the cluster is now in $DATA).
  If it is still running it holds its port; stop it and delete it with:
    runuser -u $SERVER_USER -- $PGBIN/pg_ctl -D $OLD_DATA -m fast stop; rm -rf $OLD_DATA $VAR/pg/run" >&2
}

# As root: stop an old cluster (var/pg/data) running on our port, so that callers
# that started it before the move (services.sh) still stop it.
stop_old_cluster() {
  local p
  [ "$AS_ROOT" = 1 ] && [ -r "$OLD_DATA/postmaster.pid" ] || return 0
  p=$(sed -n 4p "$OLD_DATA/postmaster.pid" 2>/dev/null || true)
  [ "$p" = "$PORT" ] || return 0
  as_server "$PGBIN/pg_ctl" -D "$OLD_DATA" status >/dev/null 2>&1 || return 0
  as_server "$PGBIN/pg_ctl" -D "$OLD_DATA" -m fast -w -t "$START_TIMEOUT" -s stop \
    || die "could not stop the old cluster in $OLD_DATA"
}

take_lock() {
  mkdir -p "$VAR/run"
  exec 9>>"$LOCK"
  flock -w 120 9 || die "timed out waiting for another pg-local.sh (lock $LOCK)"
}

is_running() {
  [ -d "$DATA" ] || return 1
  as_server "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# Port of the running server (from postmaster.pid), else the configured one.
current_port() {
  local p=""
  if [ -r "$DATA/postmaster.pid" ] && is_running; then
    p=$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)
  fi
  if [[ $p =~ ^[0-9]+$ ]]; then echo "$p"; else echo "$PORT"; fi
}

show_log_and_die() {
  local msg=$1
  if [ -s "$LOG" ]; then
    printf 'pg-local: last lines of %s:\n' "$LOG" >&2
    tail -n 40 "$LOG" >&2 || true
  fi
  die "$msg"
}

read_password() {
  local pw
  [ -r "$PASSWORD_FILE" ] || die "no $PASSWORD_FILE (run scripts/pg-local.sh start first, as the same user)"
  pw=$(<"$PASSWORD_FILE")
  [[ $pw =~ ^[A-Za-z0-9]+$ ]] || die "$PASSWORD_FILE is corrupt; delete it and run start again"
  printf '%s' "$pw"
}

ensure_password() {
  local pw="" tmp
  if [ -s "$PASSWORD_FILE" ]; then
    chmod 0600 "$PASSWORD_FILE"
    return
  fi
  while [ "${#pw}" -lt 32 ]; do
    pw+=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
  done
  tmp=$PASSWORD_FILE.tmp.$$
  (umask 077 && printf '%s\n' "${pw:0:32}" >"$tmp")
  mv -f "$tmp" "$PASSWORD_FILE"
}

# psql as the bootstrap superuser over the unix socket (peer authentication).
su_psql() {
  as_server "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$(current_port)" \
    -U "$SERVER_USER" -d postgres "$@"
}

init_cluster() {
  local out
  if ! out=$(as_server "$PGBIN/initdb" -D "$DATA" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 2>&1); then
    printf '%s\n' "$out" >&2
    die "initdb failed"
  fi
  printf "\n# Settings written by scripts/pg-local.sh on every start.\ninclude_if_exists = 'pg-local.conf'\n" \
    | as_server tee -a "$DATA/postgresql.conf" >/dev/null
}

write_conf() {
  as_server tee "$DATA/pg-local.conf" >/dev/null <<EOF
# Written by scripts/pg-local.sh on every start; edits are overwritten.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '${SOCK_DIR//\'/\'\'}'
EOF
}

wait_ready() {
  local port=$1 i
  for ((i = 0; i < START_TIMEOUT; i++)); do
    if "$PGBIN/pg_isready" -q -h "$HOST" -p "$port" -t 2; then
      return 0
    fi
    sleep 1
  done
  show_log_and_die "PostgreSQL did not accept connections on $HOST:$port within ${START_TIMEOUT}s"
}

ensure_role_and_db() {
  local pw
  pw=$(read_password)
  # The password goes through stdin, never the command line.
  su_psql >/dev/null <<EOF
SELECT 'CREATE ROLE $APP_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') \gexec
ALTER ROLE $APP_ROLE WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD '$pw';
SELECT 'CREATE DATABASE $APP_DB OWNER $APP_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$APP_DB') \gexec
EOF
}

urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# --- commands --------------------------------------------------------------------

cmd_start() {
  local out port
  note_old_cluster
  prepare_dirs
  take_lock
  if [ ! -d "$DATA" ]; then
    init_cluster
  elif [ ! -s "$DATA/PG_VERSION" ]; then
    die "$DATA exists but is not a PostgreSQL data directory; delete $PG_DIR and retry"
  fi
  ensure_password
  if ! is_running; then
    write_conf
    # 9>&- : the server must not inherit (and keep holding) our lock.
    if ! out=$(as_server "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$START_TIMEOUT" -s start 2>&1 9>&-); then
      [ -n "$out" ] && printf '%s\n' "$out" >&2
      show_log_and_die "could not start PostgreSQL on port $PORT (PG_LOCAL_PORT selects another)"
    fi
  fi
  port=$(current_port)
  if [ "$port" != "$PORT" ]; then
    printf 'pg-local: note: already running on port %s (PG_LOCAL_PORT=%s ignored until restart)\n' "$port" "$PORT" >&2
  fi
  wait_ready "$port"
  ensure_role_and_db || show_log_and_die "could not create role/database '$APP_ROLE'"
  echo "postgres: running on $HOST:$port"
}

cmd_stop() {
  local out
  stop_old_cluster
  [ -d "$DATA" ] || return 0
  require_server_user
  check_owner
  take_lock
  is_running || return 0
  if ! out=$(as_server "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t "$START_TIMEOUT" -s stop 2>&1); then
    [ -n "$out" ] && printf '%s\n' "$out" >&2
    show_log_and_die "could not stop PostgreSQL"
  fi
}

cmd_status() {
  if is_running; then exit 0; else exit 3; fi
}

cmd_url() {
  local db=${1:-$APP_DB} pw
  pw=$(read_password)
  printf 'postgresql://%s:%s@%s:%s/%s\n' "$APP_ROLE" "$pw" "$HOST" "$(current_port)" "$(urlencode "$db")"
}

cmd_recreate_db() {
  local name=${1:-}
  [ -n "$name" ] || die "usage: pg-local.sh recreate-db <name>"
  case $name in
    postgres | template0 | template1) die "refusing to recreate '$name'" ;;
  esac
  require_server_user
  check_owner
  is_running || die "PostgreSQL is not running (run scripts/pg-local.sh start first)"
  take_lock
  su_psql -v "db=$name" -v "owner=$APP_ROLE" >/dev/null <<'EOF'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
CREATE DATABASE :"db" OWNER :"owner";
EOF
}

cmd_psql() {
  local db=$APP_DB pw
  if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    db=$1
    shift
  fi
  pw=$(read_password)
  PGPASSWORD=$pw exec "$PGBIN/psql" -h "$HOST" -p "$(current_port)" -U "$APP_ROLE" -d "$db" "$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url "$@" ;;
  recreate-db) cmd_recreate_db "$@" ;;
  psql) cmd_psql "$@" ;;
  dir) echo "$PG_DIR" ;;
  -h | --help | help) usage ;;
  *)
    printf 'pg-local: unknown command: %s\n' "$cmd" >&2
    usage
    ;;
esac
