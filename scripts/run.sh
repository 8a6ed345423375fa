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
spa_pid=
stop_all() {
  trap - INT TERM EXIT
  for pid in "$tail_pid" "$spa_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
    fi
  done
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
export SPA_PORT="${SPA_PORT:-8081}"
# The sign-up page (examples/spa) is served from its own origin, as in
# production, and the email links open its verify page.
export CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:$SPA_PORT}"
export VERIFY_URL="${VERIFY_URL:-http://localhost:$SPA_PORT/verify.html}"
export SIGN_IN_URL="${SIGN_IN_URL:-http://localhost:$SPA_PORT/signin.html}"
export PASSWORD_RESET_URL="${PASSWORD_RESET_URL:-http://localhost:$SPA_PORT/reset-password.html}"
export PASSWORD_FORGOT_URL="${PASSWORD_FORGOT_URL:-http://localhost:$SPA_PORT/forgot-password.html}"

cat <<EOT
run: PostgreSQL  127.0.0.1:${PG_LOCAL_PORT:-55432} (cluster in $(scripts/pg-local.sh dir), log var/log/postgres.log)
run: emails      saved as .eml files in $(scripts/mail-local.sh dir);
                 each one's verification link is printed here as "mail-catcher: link: ..."
run: sign-up page http://localhost:$SPA_PORT/  (examples/spa, calling the API cross-origin)
run: API         http://localhost:$PORT  (Ctrl-C stops everything this started)
run: try it      curl -i -X POST http://127.0.0.1:$PORT/signup -H 'Content-Type: application/json' \\
                   -d '{"full_name":"Budi Santoso","email":"budi@lintasarta.co.id","password":"Str0ng!Pass","phone_number":"0812-3456-7890","accept_terms":true}'
EOT

/usr/bin/python3 -m http.server "$SPA_PORT" --bind 127.0.0.1 --directory examples/spa >/dev/null 2>&1 &
spa_pid=$!

# Show each email's arrival and link in this console as it comes in.
tail -n 0 -F var/log/mail-catcher.log 2>/dev/null &
tail_pid=$!

# One socket per connection, and MAX_CONNECTIONS follows the open-file
# limit: lift the soft limit (often 1024) to the hard one. The server does
# the same itself; this makes a low hard limit visible here.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  echo "run: ulimit -n is $(ulimit -n): few connections fit; raise the hard limit (README \"Under load\")"
fi
build/signup-api &
server_pid=$!
wait "$server_pid"
