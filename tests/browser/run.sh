#!/usr/bin/env bash
# Runs the Sign Up journey of examples/spa in headless Debian Chromium
# (journey.mjs), installing playwright-core from package-lock.json first when
# node_modules is missing or older than the lock file.
#
# Environment (set by the caller, e.g. scripts/test.sh):
#   API_URL          a running signup-api; its CORS_ALLOWED_ORIGINS must include
#                    SPA_URL and its VERIFY_URL must be ${SPA_URL}/verify.html
#   SPA_URL          the origin journey.mjs serves examples/spa on
#   TEST_MAIL_DIR    where the mail catcher saves .eml files
#   TEST_OUTPUT_DIR  screenshots go to $TEST_OUTPUT_DIR/browser/
# Optional: CHROMIUM_PATH (/usr/bin/chromium), MAIL_WAIT_MS (30000).
# Exit status: 0 journey passed, 1 a step failed, 2 bad set-up.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

missing=()
for name in API_URL SPA_URL TEST_MAIL_DIR TEST_OUTPUT_DIR; do
  [ -n "${!name:-}" ] || missing+=("$name")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/browser/run.sh: set ${missing[*]} (see the comment at the top of this script)" >&2
  exit 2
fi
command -v node >/dev/null || {
  echo "tests/browser/run.sh: node not found (scripts/install-deps.sh installs it)" >&2
  exit 2
}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "tests/browser: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi

exec node journey.mjs
