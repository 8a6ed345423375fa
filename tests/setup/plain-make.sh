#!/usr/bin/env bash
# Plain `make` on a machine without the -dev packages stops with one line that
# names the missing packages and says to run `make deps`. The machine is
# simulated by pointing pkg-config at an empty directory.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

set +e
output=$(PKG_CONFIG_LIBDIR="$build/none" make --no-print-directory -C "$ROOT" BUILD="$build" 2>&1)
rc=$?
set -e
lines=$(printf '%s\n' "$output" | wc -l)
fail() { echo "plain-make: $*"; echo "--- output:"; echo "$output"; exit 1; }
[ "$rc" -ne 0 ] || fail "make succeeded without packages"
[ "$lines" -eq 1 ] || fail "expected one line, got $lines"
[[ "$output" == *"libulfius-dev"* ]] || fail "the line does not name libulfius-dev"
[[ "$output" == *"make deps"* ]] || fail "the line does not say to run make deps"
[ -z "$(find "$build" -name '*.o')" ] || fail "something was compiled"
echo "plain-make: ok ($output)"
