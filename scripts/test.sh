#!/usr/bin/env bash
# `make test`: starts the local PostgreSQL and mail catcher (stopping them again
# if it started them), gives the integration suites a fresh database, and runs
# every suite. Unit suites run first; the output ends with the last suite's
# Check summary line. Exits non-zero if any suite failed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/services.sh
. scripts/services.sh

trap 'services_stop "$ROOT"' EXIT
services_start "$ROOT"

scripts/pg-local.sh recreate-db signup_test
TEST_DATABASE_URL="$(scripts/pg-local.sh url signup_test)"
export TEST_DATABASE_URL
export TEST_HTTP_PORT="${TEST_HTTP_PORT:-18080}"
export SIGNUP_API_BIN="$ROOT/build/signup-api"
mkdir -p build/test-output
export TEST_SERVER_LOG="$ROOT/build/test-output/server.log"
: >"$TEST_SERVER_LOG"
# The servers the suites start send mail to the local catcher.
export SMTP_HOST=127.0.0.1 SMTP_PORT="${MAIL_CATCHER_PORT:-2525}" SMTP_TLS=off
TEST_MAIL_DIR="$(scripts/mail-local.sh dir)"
export TEST_MAIL_DIR

unit_suites=(check_string_set check_signup_validation check_signup_request check_config check_password_hash
  check_verify_token check_mime)
integration_suites=(check_api_signup)

failed=()
for suite in "${unit_suites[@]}" "${integration_suites[@]}"; do
  echo
  echo "== $suite"
  if ! "build/tests/$suite"; then
    failed+=("$suite")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "FAILED suites: ${failed[*]} (server log: $TEST_SERVER_LOG)" >&2
  exit 1
fi
