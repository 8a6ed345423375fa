#!/usr/bin/env bash
# Runs the server binary ($VALGRIND_SERVER_BIN) under memcheck for
# `make test-valgrind`; one log per process in build/test-output/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
  --log-file="$ROOT/build/test-output/valgrind-server-%p.log" "$VALGRIND_SERVER_BIN" "$@"
