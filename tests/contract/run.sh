#!/usr/bin/env bash
# The API contract check: lints openapi.yaml (Redocly, redocly.yaml) and checks
# every HTTP response the integration suites recorded against it.
#
#   tests/contract/run.sh [response-log.jsonl]     (default: $TEST_RESPONSE_LOG)
#
# The log is what tests/support.c writes when TEST_RESPONSE_LOG is set: one
# JSON line per response. The pinned tools (package-lock.json) are installed
# with `npm ci` into tests/contract/node_modules when that is missing or older
# than the lock file. Exits non-zero on a lint error or warning, on any
# response the document does not describe, and on an empty or missing log.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

die() {
  printf 'contract: %s\n' "$*" >&2
  exit 1
}

log="${1:-${TEST_RESPONSE_LOG:-}}"
[ -n "$log" ] || die "no response log: pass a path or set TEST_RESPONSE_LOG"
[ -f "$log" ] || die "response log $log does not exist (did the integration suites run with TEST_RESPONSE_LOG set?)"

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20.19 is needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
node_version="$(node -p 'process.versions.node')"
IFS=. read -r node_major node_minor _ <<<"$node_version"
# @redocly/cli's engines: >=20.19.0 <21, or >=22.12.0.
if ! ((node_major == 20 && node_minor >= 19 || node_major == 22 && node_minor >= 12 || node_major >= 23)); then
  die "Node.js $node_version is too old for @redocly/cli (needs 20.19+ or 22.12+)"
fi

# npm records what it installed in node_modules/.package-lock.json; when the
# lock file is newer (or either is missing), reinstall exactly what it pins.
if [ ! -d "$HERE/node_modules" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  echo "== npm ci (tests/contract)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$ROOT"
exec node "$HERE/validate-responses.mjs" --lint --spec "$ROOT/openapi.yaml" "$log"
