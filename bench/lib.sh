# shellcheck shell=bash
# Helpers the bench scripts share (bench/run.sh, pooler.sh, capacity.sh,
# flood.sh). Source it after setting BENCH_NAME (the prefix of log lines);
# wait_port's message names $WORK, the caller's work directory.

log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Stops pid: TERM, up to 10 s for it to exit, then KILL; reaps it.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# True when something listens on 127.0.0.1:<port>.
port_open() {
  # shellcheck disable=SC2016
  timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' port-check "$1" 2>/dev/null
}

# wait_port <port> <pid> <what>: until pid listens on port (30 s at most);
# dies when pid exits first.
wait_port() {
  local port=$1 pid=$2 what=$3 i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up (see $WORK)"
    port_open "$port" && return 0
    sleep 0.1
  done
  die "$what did not listen on port $port within 30 s"
}

# Value of key=value in the BENCH line of a wrk output file (bench/common.lua).
field() {
  grep '^BENCH ' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

# a / b with two decimals; 0 when b is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
