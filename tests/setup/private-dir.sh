#!/usr/bin/env bash
# The local services must work from a checkout nobody else can enter, e.g. root's
# 0700 home or a `mktemp -d` directory (PostgreSQL runs as "postgres" when we are
# root, and that user cannot traverse such a directory).
#
# Clones this checkout (its committed state) into a fresh `mktemp -d` directory
# (mode 0700) and there: starts the PostgreSQL cluster, recreates a database,
# queries it over psql and over a libpq URL, starts the mail catcher and checks its
# status, then stops both and deletes the clone and its cluster directory.
# Ports: PRIVATE_DIR_PG_PORT / PRIVATE_DIR_MAIL_PORT (default: the caller's
# PG_LOCAL_PORT / MAIL_CATCHER_PORT, or their defaults, plus 1000)
# so this can run while the checkout's own services are up.
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Its own ports, never the caller's: scripts/test.sh runs this while its own
# cluster and catcher are up on PG_LOCAL_PORT / MAIL_CATCHER_PORT.
export PG_LOCAL_PORT=${PRIVATE_DIR_PG_PORT:-$(( ${PG_LOCAL_PORT:-55432} + 1000 ))}
export MAIL_CATCHER_PORT=${PRIVATE_DIR_MAIL_PORT:-$(( ${MAIL_CATCHER_PORT:-2525} + 1000 ))}
DB=signup_test

step() { printf 'private-dir: %s\n' "$*"; }
fail() {
  printf 'private-dir: FAIL: %s\n' "$*" >&2
  exit 1
}

d=$(mktemp -d)
p=$d/p
cluster_dir=
cleanup() {
  local rc=$?
  if [ -x "$p/scripts/pg-local.sh" ]; then
    "$p/scripts/mail-local.sh" stop >/dev/null 2>&1 || true
    "$p/scripts/pg-local.sh" stop >/dev/null 2>&1 || true
  fi
  # Only the clone's own cluster directory (never the base it sits in).
  if [ -n "$cluster_dir" ] && [[ $cluster_dir != "$d"/* ]] && [ -e "$cluster_dir/checkout" ] \
    && [ "$(<"$cluster_dir/checkout")" = "$(cd "$p" && pwd -P)" ]; then
    rm -rf "$cluster_dir"
  fi
  rm -rf "$d"
  if [ "$rc" -eq 0 ]; then step "OK"; fi
}
trap cleanup EXIT

[ "$(stat -c %a "$d")" = 700 ] || fail "mktemp -d gave $(stat -c %a "$d"), expected 700"
git clone -q "$ROOT" "$p" || fail "git clone $ROOT failed"
cd "$p"
step "clone in $p (parent mode 700, running as $(id -un))"

cluster_dir=$(scripts/pg-local.sh dir) || fail "pg-local.sh dir failed"
step "cluster directory $cluster_dir"

scripts/pg-local.sh start || fail "pg-local.sh start failed (port $PG_LOCAL_PORT)"
scripts/pg-local.sh status || fail "pg-local.sh status says not running after start"
[ -r var/log/postgres.log ] || fail "var/log/postgres.log is not readable"
grep -q . var/log/postgres.log || fail "var/log/postgres.log is empty"
[ -s var/pg/app-password ] || fail "no var/pg/app-password"

scripts/pg-local.sh recreate-db "$DB" || fail "pg-local.sh recreate-db $DB failed"
out=$(scripts/pg-local.sh psql "$DB" -X -A -t -c 'select 1') || fail "pg-local.sh psql $DB failed"
[ "$out" = 1 ] || fail "pg-local.sh psql $DB -c 'select 1' printed '$out'"
url=$(scripts/pg-local.sh url "$DB") || fail "pg-local.sh url $DB failed"
out=$(psql "$url" -X -A -t -c 'select current_user || current_database()') || fail "psql <url> failed"
[ "$out" = "signup$DB" ] || fail "psql <url> printed '$out', expected 'signup$DB'"
step "PostgreSQL: recreate-db, psql and the libpq URL work on port $PG_LOCAL_PORT"

scripts/mail-local.sh start || fail "mail-local.sh start failed (port $MAIL_CATCHER_PORT)"
scripts/mail-local.sh status || fail "mail-local.sh status says not running after start"
step "mail catcher running on port $MAIL_CATCHER_PORT"

scripts/mail-local.sh stop || fail "mail-local.sh stop failed"
if scripts/mail-local.sh status; then fail "mail catcher still running after stop"; fi
scripts/pg-local.sh stop || fail "pg-local.sh stop failed"
if scripts/pg-local.sh status; then fail "PostgreSQL still running after stop"; fi
step "both stopped"
