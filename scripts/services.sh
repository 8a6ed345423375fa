# Sourced by run.sh and test.sh: starts the local PostgreSQL cluster and mail
# catcher, and remembers which ones this shell started so that only those are
# stopped again (a cluster someone else started keeps running).
# shellcheck shell=bash

services_started=()

services_start() {
  local root="$1"
  if ! "$root/scripts/pg-local.sh" status >/dev/null 2>&1; then
    services_started+=(pg)
  fi
  "$root/scripts/pg-local.sh" start
  if ! "$root/scripts/mail-local.sh" status >/dev/null 2>&1; then
    services_started+=(mail)
  fi
  "$root/scripts/mail-local.sh" start
}

services_stop() {
  local root="$1" s
  for s in "${services_started[@]}"; do
    case "$s" in
      pg) "$root/scripts/pg-local.sh" stop >/dev/null 2>&1 || true ;;
      mail) "$root/scripts/mail-local.sh" stop >/dev/null 2>&1 || true ;;
    esac
  done
  services_started=()
}
