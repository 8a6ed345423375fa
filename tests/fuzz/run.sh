#!/usr/bin/env bash
# Builds and runs the libFuzzer harnesses in tests/fuzz/.
#
#   tests/fuzz/run.sh corpus           build every harness, run each over its seed corpus once;
#                                      fails if any input crashes (the regression check for `make test`)
#   tests/fuzz/run.sh fuzz [seconds]   build, then fuzz each harness for <seconds> (default 60) with
#                                      -max_len=16384, adding new inputs to tests/fuzz/corpus/<name>/
#                                      (then minimised with -merge=1; FUZZ_MINIMISE=0 keeps them all);
#                                      crashing inputs go to tests/fuzz/crashes/<name>/
#
# Harnesses link only the modules they test (like the unit tests), compiled with
# clang -g -O1 -fsanitize=fuzzer,address,undefined. Binaries and logs go to build/fuzz/.
# Environment: FUZZ_CC (default clang), FUZZ_HARNESSES (default: all, space-separated).
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

FUZZ_DIR=tests/fuzz
OUT=build/fuzz
CC=${FUZZ_CC:-clang}
# -fno-sanitize-recover makes UBSan findings crash like ASan's instead of only printing.
# shellcheck disable=SC2054 # the commas belong to -fsanitize=
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude)

# Each harness and the module sources it links.
declare -A SOURCES=(
  [fuzz_signup_request]="api/signup_request.c auth/signup_validation.c core/string_set.c core/utf8.c core/secret.c"
  [fuzz_validators]="auth/signup_validation.c core/string_set.c core/utf8.c"
  [fuzz_verify_token]="auth/verify_token.c"
  [fuzz_mime]="mail/mime.c"
)
read -ra HARNESSES <<<"${FUZZ_HARNESSES:-fuzz_signup_request fuzz_validators fuzz_verify_token fuzz_mime}"

die() {
  printf 'fuzz: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '4,9s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

build() {
  local name=$1
  [ -n "${SOURCES[$name]:-}" ] || die "unknown harness '$name'"
  mkdir -p "$OUT"
  # shellcheck disable=SC2046,SC2086 # pkg-config output and source lists are word lists
  "$CC" "${CFLAGS[@]}" $(pkg-config --cflags jansson libcrypto libpq) -o "$OUT/$name" \
    "$FUZZ_DIR/$name.c" ${SOURCES[$name]} $(pkg-config --libs jansson libcrypto) ||
    die "building $name failed"
}

run_corpus() {
  local failed=0 name
  for name in "${HARNESSES[@]}"; do
    build "$name"
    local corpus=$FUZZ_DIR/corpus/$name
    [ -d "$corpus" ] || die "no corpus directory $corpus"
    local count
    count=$(find "$corpus" -type f | wc -l)
    if "$OUT/$name" -runs=0 "$corpus/" >"$OUT/$name.corpus.log" 2>&1; then
      printf 'fuzz: %-22s %4d inputs, no crash\n' "$name" "$count"
    else
      printf 'fuzz: %-22s CRASHED; see %s\n' "$name" "$OUT/$name.corpus.log"
      tail -n 40 "$OUT/$name.corpus.log" >&2
      failed=1
    fi
  done
  return "$failed"
}

# Keeps the corpus small: the named seeds stay, and of the inputs libFuzzer
# added (named by their SHA-1) only those reaching code nothing else reaches.
minimise() {
  local name=$1 corpus=$FUZZ_DIR/corpus/$1 work=$OUT/$1.merge f
  rm -rf "$work"
  mkdir -p "$work/keep" "$work/found"
  for f in "$corpus"/*; do
    [ -f "$f" ] || continue
    if [[ $(basename "$f") =~ ^[0-9a-f]{40}$ ]]; then cp "$f" "$work/found/"; else cp "$f" "$work/keep/"; fi
  done
  "$OUT/$name" -merge=1 -use_counters=0 "$work/keep" "$work/found" >"$OUT/$name.merge.log" 2>&1 ||
    die "minimising the $name corpus failed; see $OUT/$name.merge.log"
  find "$corpus" -type f -delete
  cp "$work/keep/"* "$corpus/"
  rm -rf "$work"
}

run_fuzz() {
  local seconds=$1 crashes=0 name
  [[ $seconds =~ ^[1-9][0-9]*$ ]] || die "seconds must be a positive integer, got '$seconds'"
  local started=$SECONDS
  for name in "${HARNESSES[@]}"; do
    build "$name"
    local corpus=$FUZZ_DIR/corpus/$name crash_dir=$FUZZ_DIR/crashes/$name
    mkdir -p "$corpus" "$crash_dir"
    local before after t0=$SECONDS
    before=$(find "$crash_dir" -type f | wc -l)
    # New interesting inputs are written to the first corpus directory.
    "$OUT/$name" -max_len=16384 -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$crash_dir/" "$corpus/" >"$OUT/$name.fuzz.log" 2>&1 || true
    after=$(find "$crash_dir" -type f | wc -l)
    [ "${FUZZ_MINIMISE:-1}" = 0 ] || minimise "$name"
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.fuzz.log" | tail -n 1)
    printf 'fuzz: %-22s %4ds, %s runs, corpus %d, new crashes %d\n' "$name" $((SECONDS - t0)) "${execs:-?}" \
      "$(find "$corpus" -type f | wc -l)" $((after - before))
    if ((after > before)); then
      grep -m 1 -A 30 -E '^==[0-9]+==ERROR|invariant violated|runtime error' "$OUT/$name.fuzz.log" >&2 || true
    fi
    crashes=$((crashes + after - before))
  done
  printf 'fuzz: total %ds, %d crash(es)%s\n' $((SECONDS - started)) "$crashes" \
    "$( ((crashes == 0)) || printf '; inputs in %s/crashes/' "$FUZZ_DIR")"
  ((crashes == 0))
}

case "${1:-}" in
  corpus) run_corpus ;;
  fuzz) run_fuzz "${2:-60}" ;;
  *) usage ;;
esac
