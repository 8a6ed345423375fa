#!/usr/bin/env bash
# `make run`: starts the local PostgreSQL and mail catcher, then serves the API
# on http://127.0.0.1:8080 (PORT) in the foreground. Ctrl-C stops the server
# and whatever this script started. Any variable from the README can be set
# in the environment to override the development defaults below.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/services.sh
. scripts/services.sh

server_pid=
tail_pid=
stop_all() {
  trap - INT TERM EXIT
  if [ -n "$tail_pid" ]; then
    kill "$tail_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  services_stop "$ROOT"
  echo "run: stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

services_start "$ROOT"

export PORT="${PORT:-8080}"
export DATABASE_URL="${DATABASE_URL:-$(scripts/pg-local.sh url signup)}"
export SMTP_HOST="${SMTP_HOST:-127.0.0.1}"
export SMTP_PORT="${SMTP_PORT:-${MAIL_CATCHER_PORT:-2525}}"
export SMTP_TLS="${SMTP_TLS:-off}"
export MAIL_FROM="${MAIL_FROM:-Cloud Portal <no-reply@portal.localhost>}"
export VERIFY_URL="${VERIFY_URL:-http://localhost:$PORT/verify}"

cat <<EOT
run: PostgreSQL  127.0.0.1:${PG_LOCAL_PORT:-55432} (data in var/pg, log var/log/postgres.log)
run: emails      saved as .eml files in $(scripts/mail-local.sh dir);
                 each one's verification link is printed here as "mail-catcher: link: ..."
run: API         http://127.0.0.1:$PORT  (Ctrl-C stops everything this started)
run: try it      curl -i -X POST http://127.0.0.1:$PORT/signup -H 'Content-Type: application/json' \\
                   -d '{"full_name":"Budi Santoso","email":"budi@lintasarta.co.id","password":"Str0ng!Pass","phone_number":"0812-3456-7890","accept_terms":true}'
EOT

# Show each email's arrival and link in this console as it comes in.
tail -n 0 -F var/log/mail-catcher.log 2>/dev/null &
tail_pid=$!

build/signup-api &
server_pid=$!
wait "$server_pid"
