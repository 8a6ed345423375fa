#!/usr/bin/env bash
# Checks the generated TypeScript client and runs its journey test:
#
#   1. npm ci, when node_modules is missing or older than package-lock.json;
#   2. npm run generate must reproduce the checked-in src/schema.d.ts exactly
#      (the client can never drift from ../../openapi.yaml; a diff otherwise);
#   3. npm run typecheck (tsc --noEmit, strict);
#   4. npm test (test/journey.test.ts against a running signup-api).
#
# Environment: API_URL (base URL of a running signup-api whose mail goes to the
# catcher) and TEST_MAIL_DIR (where the catcher saves *.eml). Output goes to
# stdout/stderr (make test keeps it in build/test-output/client-ts.log).
# Works from any directory; `make test` runs it from the repository root.
set -euo pipefail

: "${API_URL:?set API_URL to the base URL of a running signup-api, e.g. http://localhost:8080}"
: "${TEST_MAIL_DIR:?set TEST_MAIL_DIR to the directory the mail catcher saves *.eml in}"
# Absolute, as the test runs from this directory.
mail_dir=$(cd "$TEST_MAIL_DIR" 2>/dev/null && pwd) || {
  echo "client-ts: TEST_MAIL_DIR is not a directory: $TEST_MAIL_DIR" >&2
  exit 2
}
TEST_MAIL_DIR=$mail_dir
export API_URL TEST_MAIL_DIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"

say() { printf '== client-ts: %s\n' "$*"; }

command -v npm >/dev/null 2>&1 || {
  echo "client-ts: node and npm are needed (Node.js >= 20.19; scripts/install-deps.sh installs them)" >&2
  exit 2
}

# npm ci writes node_modules/.package-lock.json last, so it is the stamp of a
# complete install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "npm run generate reproduces src/schema.d.ts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -p src/schema.d.ts "$scratch/schema.d.ts.checked-in"
if ! npm run --silent generate >"$scratch/generate.log" 2>&1; then
  cp -p "$scratch/schema.d.ts.checked-in" src/schema.d.ts
  cat "$scratch/generate.log" >&2
  echo "client-ts: npm run generate failed (is ../../openapi.yaml valid?)" >&2
  exit 1
fi
status=0
diff -u --label "src/schema.d.ts (checked in)" --label "src/schema.d.ts (npm run generate)" \
  "$scratch/schema.d.ts.checked-in" src/schema.d.ts >"$scratch/schema.diff" || status=$?
# Leave the tree exactly as it was (content and mtime); the diff says what changed.
cp -p "$scratch/schema.d.ts.checked-in" src/schema.d.ts
if [ "$status" -ne 0 ]; then
  cat "$scratch/schema.diff" >&2
  echo "client-ts: src/schema.d.ts is out of date with openapi.yaml." >&2
  echo "client-ts: run 'npm run generate' in examples/client-ts, then 'npm run typecheck', and commit the result." >&2
  exit 1
fi

say "npm run typecheck"
npm run --silent typecheck

say "npm test (API_URL=$API_URL)"
npm test --silent
