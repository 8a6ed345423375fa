#!/usr/bin/env bash
# `make test`: starts the local PostgreSQL and mail catcher (stopping them again
# if it started them), gives the integration suites a fresh database, and runs
# every suite: unit suites, then the C integration suites (which record every
# response they receive), then check_e2e (OpenAPI lint and response
# validation, generated client, curl examples, browser, compose check). All
# are Check suites, so the output ends with a Check summary line. Exits
# non-zero if any suite failed.
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
# BUILD_DIR: which build to test (build, or build/asan for `make test`).
BUILD_DIR="${BUILD_DIR:-build}"
mkdir -p build/test-output
if [ "${VALGRIND:-0}" = 1 ]; then
  # Every server the suites start runs under memcheck too, one log per process.
  export SIGNUP_API_BIN="$ROOT/scripts/valgrind-server.sh"
  export VALGRIND_SERVER_BIN="$ROOT/$BUILD_DIR/signup-api"
  rm -f build/test-output/valgrind-*.log
  export CK_TIMEOUT_MULTIPLIER=20
  # argon2 runs ~50x slower under memcheck; without this the suites' bursts of
  # sign-ups would (correctly) be shed with 503 service_busy.
  export HASH_QUEUE_TIMEOUT_MS=600000
else
  export SIGNUP_API_BIN="$ROOT/$BUILD_DIR/signup-api"
fi
if [[ "$BUILD_DIR" == *asan* ]]; then
  # Leaks fail the run; libraries' one-off allocations are listed in the file.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=23"
  export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
export TEST_SERVER_LOG="$ROOT/build/test-output/server.log"
: >"$TEST_SERVER_LOG"
# Abuse limits would trip over the suites' many sign-ups from one address;
# the suites that test the limits turn them on for their own servers.
export RATE_LIMITS_ENABLED=false
# The servers the suites start send mail to the local catcher.
export SMTP_HOST=127.0.0.1 SMTP_PORT="${MAIL_CATCHER_PORT:-2525}" SMTP_TLS=off
TEST_MAIL_DIR="$(scripts/mail-local.sh dir)"
export TEST_MAIL_DIR
export TEST_OUTPUT_DIR="$ROOT/build/test-output"
# Every response the C integration suites receive; check_e2e validates them
# against openapi.yaml.
export TEST_RESPONSE_LOG="$TEST_OUTPUT_DIR/responses.jsonl"
: >"$TEST_RESPONSE_LOG"

unit_suites=(check_string_set check_signup_validation check_signup_request check_config check_password_hash
  check_secret_token check_mime check_log check_phc_string check_bearer_token check_signin_request
  check_password_verify check_sodium_work_area check_capacity check_client_ip)
integration_suites=(check_api_signup check_api_verify check_api_signin check_api_recovery check_api_hostile check_api_faults check_api_flood check_e2e)

unit_suites+=(check_lease_holder)

run_suite() {
  local suite="$1"
  if [ "${VALGRIND:-0}" = 1 ]; then
    CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
      --log-file="build/test-output/valgrind-$suite.log" "$BUILD_DIR/tests/$suite"
  else
    "$BUILD_DIR/tests/$suite"
  fi
}

# TEST_SUITES="check_a check_b": run only those (for iterating; `make test` runs all).
if [ -n "${TEST_SUITES:-}" ]; then
  read -r -a unit_suites <<<"$TEST_SUITES"
  integration_suites=()
fi

if [ "${VALGRIND:-0}" = 1 ]; then
  # The e2e suite drives Node and Chromium, not our memory; it runs in the other modes.
  integration_suites=("${integration_suites[@]/check_e2e/}")
  # Floods, kills and timing-based faults measure the real build, not memcheck's.
  integration_suites=("${integration_suites[@]/check_api_faults/}")
  integration_suites=("${integration_suites[@]/check_api_flood/}")
fi

failed=()
# The set-up itself, as a newcomer meets it: plain `make` without packages,
# and the local services from a checkout inside a 0700 directory.
setup_checks=(tests/setup/plain-make.sh tests/setup/private-dir.sh)
[ -z "${TEST_SUITES:-}" ] || setup_checks=()
for check in "${setup_checks[@]}"; do
  echo
  echo "== $check"
  "$check" || failed+=("$check")
done

for suite in "${unit_suites[@]}" "${integration_suites[@]}"; do
  [ -n "$suite" ] || continue
  echo
  echo "== $suite"
  if ! run_suite "$suite"; then
    failed+=("$suite")
  fi
done

# Last, because it restarts this checkout's PostgreSQL once: the scale-out
# test (PgBouncer, three nodes, two workers, nginx; tests/cluster/run.sh).
if [ -z "${TEST_SUITES:-}" ] && [ "${VALGRIND:-0}" != 1 ]; then
  echo
  echo "== cluster (make test-cluster)"
  CLUSTER_BIN="$ROOT/$BUILD_DIR/signup-api" tests/cluster/run.sh || failed+=(cluster)
fi

# Servers report sanitizer findings on stderr, which the suites send to the log.
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TEST_SERVER_LOG"; then
  echo "sanitizer errors in $TEST_SERVER_LOG:" >&2
  grep -E -A 20 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TEST_SERVER_LOG" | head -60 >&2
  failed+=(server-sanitizer)
fi

if [ "${VALGRIND:-0}" = 1 ]; then
  for log in build/test-output/valgrind-*.log; do
    if grep -q "ERROR SUMMARY: [1-9]" "$log" || grep -q "definitely lost: [1-9]" "$log"; then
      echo "memcheck errors in $log" >&2
      failed+=("$(basename "$log" .log)")
    fi
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "FAILED suites: ${failed[*]} (server log: $TEST_SERVER_LOG)" >&2
  exit 1
fi
