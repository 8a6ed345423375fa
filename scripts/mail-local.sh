#!/usr/bin/env bash
# Runs scripts/mail-catcher.py (a development SMTP sink) in the background.
#
#   scripts/mail-local.sh start    start if not running; wait until the port accepts connections
#   scripts/mail-local.sh stop     stop it (SIGTERM, then SIGKILL after 10 s); quiet, idempotent
#   scripts/mail-local.sh status   exit 0 if running, 3 if not
#   scripts/mail-local.sh dir      print the absolute directory messages are saved in
#
# Environment: MAIL_CATCHER_HOST (127.0.0.1), MAIL_CATCHER_PORT (2525),
# MAIL_CATCHER_DIR (var/mail; relative paths are relative to the project root).
# Pid file var/run/mail-catcher.pid, log var/log/mail-catcher.log.
set -euo pipefail

unset CDPATH
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$ROOT/var
RUN_DIR=$VAR/run
LOG_DIR=$VAR/log
PID_FILE=$RUN_DIR/mail-catcher.pid
INFO_FILE=$RUN_DIR/mail-catcher.info
LOG=$LOG_DIR/mail-catcher.log
CATCHER=$ROOT/scripts/mail-catcher.py
PYTHON=/usr/bin/python3
HOST=${MAIL_CATCHER_HOST:-127.0.0.1}
PORT=${MAIL_CATCHER_PORT:-2525}
MAIL_DIR=${MAIL_CATCHER_DIR:-var/mail}
[[ $MAIL_DIR == /* ]] || MAIL_DIR=$ROOT/$MAIL_DIR
TIMEOUT=10

die() {
  printf 'mail-local: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,7s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

# True if the process exists and is not a zombie.
pid_alive() {
  local state
  [[ $1 =~ ^[0-9]+$ ]] && [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Pid of the running catcher (from the pid file), or fail. Checks that the pid
# really is our catcher (not a reused pid) and not a zombie.
running_pid() {
  local pid
  [ -r "$PID_FILE" ] || return 1
  pid=$(<"$PID_FILE")
  pid_alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -Fqx "$CATCHER" || return 1
  echo "$pid"
}

port_open() {
  local host=$1 port=$2
  case $host in 0.0.0.0 | '' | '*') host=127.0.0.1 ;; :: | '[::]') host=::1 ;; esac
  # shellcheck disable=SC2016
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' port-check "$host" "$port" 2>/dev/null
}

# Host, port and directory of the running instance (may differ from the environment).
load_info() {
  local lines=()
  if [ -r "$INFO_FILE" ] && running_pid >/dev/null; then
    mapfile -t lines <"$INFO_FILE"
    if [ "${#lines[@]}" -eq 3 ]; then
      HOST=${lines[0]} PORT=${lines[1]} MAIL_DIR=${lines[2]}
    fi
  fi
}

announce() {
  echo "mail-catcher: listening on $HOST:$PORT, messages saved in $MAIL_DIR"
}

show_log_and_die() {
  local from=$1 msg=$2
  if [ -s "$LOG" ]; then
    printf 'mail-local: output of the catcher (%s):\n' "$LOG" >&2
    tail -c "+$((from + 1))" "$LOG" | tail -n 40 >&2 || true
  fi
  die "$msg"
}

cmd_start() {
  local offset pid i
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  exec 9>>"$RUN_DIR/mail-local.lock"
  flock -w 30 9 || die "timed out waiting for another mail-local.sh"

  if running_pid >/dev/null; then
    load_info
    announce
    return 0
  fi
  [ -x "$PYTHON" ] || die "$PYTHON not found (run scripts/install-deps.sh)"
  "$PYTHON" -c 'import aiosmtpd' 2>/dev/null || die "$PYTHON cannot import aiosmtpd (install python3-aiosmtpd: scripts/install-deps.sh)"
  if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
    die "MAIL_CATCHER_PORT must be a TCP port number, got '$PORT'"
  fi
  if port_open "$HOST" "$PORT"; then
    die "something else is already listening on $HOST:$PORT (set MAIL_CATCHER_PORT to use another port)"
  fi
  mkdir -p "$MAIL_DIR"
  MAIL_DIR=$(cd "$MAIL_DIR" && pwd)
  rm -f "$PID_FILE" "$INFO_FILE"
  touch "$LOG"
  offset=$(stat -c %s "$LOG")

  # The inner shell writes its own pid and then execs python, so the pid file holds
  # the catcher's pid however setsid behaves. setsid + nohup detach it from this
  # script's session/terminal; 9>&- keeps it from holding our lock.
  # shellcheck disable=SC2016
  MAIL_CATCHER_HOST=$HOST MAIL_CATCHER_PORT=$PORT MAIL_CATCHER_DIR=$MAIL_DIR \
    nohup setsid sh -c 'echo $$ >"$1" && exec "$2" -u "$3"' mail-catcher "$PID_FILE" "$PYTHON" "$CATCHER" \
    </dev/null >>"$LOG" 2>&1 9>&- &
  printf '%s\n%s\n%s\n' "$HOST" "$PORT" "$MAIL_DIR" >"$INFO_FILE"

  for ((i = 0; i < TIMEOUT * 10; i++)); do
    sleep 0.1
    # Ready = our process says it is listening and the port accepts a connection.
    if running_pid >/dev/null && tail -c "+$((offset + 1))" "$LOG" | grep -q '^mail-catcher: listening on' \
      && port_open "$HOST" "$PORT"; then
      announce
      return 0
    fi
    if [ -s "$PID_FILE" ] && ! pid_alive "$(<"$PID_FILE")"; then
      rm -f "$PID_FILE" "$INFO_FILE"
      show_log_and_die "$offset" "the mail catcher exited during start-up"
    fi
  done
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$INFO_FILE"
  show_log_and_die "$offset" "the mail catcher did not accept connections on $HOST:$PORT within ${TIMEOUT}s"
}

cmd_stop() {
  local pid i
  [ -e "$PID_FILE" ] || return 0
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      running_pid >/dev/null || break
      sleep 0.1
    done
    if running_pid >/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$PID_FILE" "$INFO_FILE"
}

cmd_status() {
  if running_pid >/dev/null; then exit 0; else exit 3; fi
}

cmd_dir() {
  load_info
  if [[ $MAIL_DIR == "$ROOT"/* ]] && [ ! -d "$MAIL_DIR" ]; then
    mkdir -p "$MAIL_DIR"
  fi
  if [ -d "$MAIL_DIR" ]; then
    (cd "$MAIL_DIR" && pwd)
  else
    echo "$MAIL_DIR"
  fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  dir) cmd_dir ;;
  -h | --help | help) usage ;;
  *)
    printf 'mail-local: unknown command: %s\n' "$cmd" >&2
    usage
    ;;
esac
