#!/usr/bin/env bash
# Checks the include rule of the source tree: a file includes only headers
# implemented in its own layer or one it may reach below it.
#   app  -> api -> auth -> db -> core
#   app  -> mail -> db -> core
# A header's layer is the folder of the .c file of the same name (a few
# headers are named for a group of files; they are listed below). Headers are
# checked too, with the layer of their implementation. `make lint` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A MAY_INCLUDE=(
  [app]="app api auth mail db core"
  [api]="api auth db core"
  [auth]="auth db core"
  [mail]="mail db core"
  [db]="db core"
  [core]="core"
)
# Headers whose implementation is not <name>.c.
declare -A HEADER_LAYER=(
  [app.h]=api          # the handler context (struct app), filled in by app/main.c
  [handlers.h]=api     # api/handlers_*.c
  [db_migrate.h]=db    # db/migrate.c
  [account_fields.h]=db # sizes of the stored account fields, no code
  [account_profile.h]=db # the account as its owner sees it, no code
)

layer_of_header() {
  local h="$1" c
  if [ -n "${HEADER_LAYER[$h]:-}" ]; then
    echo "${HEADER_LAYER[$h]}"
    return
  fi
  for c in */"${h%.h}.c"; do
    [ -f "$c" ] && { dirname "$c"; return; }
  done
  echo "?"
}

status=0
check_file() {
  local file="$1" layer="$2" inc target
  while read -r inc; do
    target=$(layer_of_header "$inc")
    if [ "$target" = "?" ]; then
      echo "check-layers: $file includes \"$inc\", which no layer implements" >&2
      status=1
    elif [[ " ${MAY_INCLUDE[$layer]} " != *" $target "* ]]; then
      echo "check-layers: $file ($layer) includes \"$inc\" from $target" >&2
      status=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
}

for layer in "${!MAY_INCLUDE[@]}"; do
  for f in "$layer"/*.c; do
    [ -f "$f" ] && check_file "$f" "$layer"
  done
done
for h in include/*.h; do
  check_file "$h" "$(layer_of_header "$(basename "$h")")"
done
exit $status
