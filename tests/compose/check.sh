#!/usr/bin/env bash
# Checks Dockerfile and docker-compose.yml without a Docker engine (part of
# `make test`): the compose file is valid, both images install what the
# Makefile and `ldd build/signup-api` need, the runtime stage runs as a
# non-root user with a HEALTHCHECK, and the api/worker services set only
# variables README.md documents. Prints each check; exits 1 on any mismatch.
# COMPOSE_CHECK_ROOT=dir checks the files in dir instead of this checkout.
set -euo pipefail

ROOT="${COMPOSE_CHECK_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$ROOT"

DOCKERFILE=Dockerfile
COMPOSE_FILE=docker-compose.yml
BIN=build/signup-api

# pkg-config module (Makefile PKGS) -> the Debian package with its .pc file.
declare -A DEV_PACKAGE=(
  [libulfius]=libulfius-dev
  [jansson]=libjansson-dev
  [libpq]=libpq-dev
  [libargon2]=libargon2-dev
  [libesmtp-1.0]=libesmtp-dev
  [libcrypto]=libssl-dev
  [libssl]=libssl-dev
  [libmicrohttpd]=libmicrohttpd-dev
  [libsodium]=libsodium-dev
)
# Build tools the build stage needs besides the -dev packages.
BUILD_TOOLS=(build-essential pkg-config)
# In every Debian base image, so the runtime stage need not name them.
BASE_IMAGE_PACKAGES=(libc6)
# Needed at run time but invisible to ldd: libESMTP checks SMTP servers'
# certificates against the system CA store.
RUNTIME_EXTRA=(ca-certificates)
# Never in the runtime image.
RUNTIME_FORBIDDEN_RE='(-dev$|^build-essential$|^gcc(-[0-9]+)?$|^g\+\+(-[0-9]+)?$|^make$|^pkg-?config$|^pkgconf$)'

failures=0
ok() { printf 'compose-check: ok    %s\n' "$*"; }
fail() {
  printf 'compose-check: FAIL  %s\n' "$*" >&2
  failures=$((failures + 1))
}
info() { printf 'compose-check:       %s\n' "$*"; }

for f in "$DOCKERFILE" "$COMPOSE_FILE" README.md Makefile; do
  if [ ! -f "$f" ]; then
    echo "compose-check: FAIL  $ROOT/$f is missing" >&2
    exit 1
  fi
done

# ---- the compose file is valid --------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  echo "compose-check: FAIL  neither docker-compose nor 'docker compose' is installed (scripts/install-deps.sh installs docker-compose)" >&2
  exit 1
fi
# A clean environment, so the result does not depend on what the caller
# exported (scripts/test.sh exports SMTP_HOST, ...); a .env file still counts.
compose_env=(env -i "PATH=$PATH" "HOME=${HOME:-/root}")
compose_config=""
if ! errors="$("${compose_env[@]}" "${compose[@]}" -f "$COMPOSE_FILE" config -q 2>&1)"; then
  fail "${compose[*]} -f $COMPOSE_FILE config -q rejects the file:"
  printf '%s\n' "$errors" | sed 's/^/    /' >&2
elif [ -n "$errors" ]; then
  # Interpolation warnings, e.g. "The FOO variable is not set": every
  # ${VAR} needs a :-default so the file works without a .env.
  fail "${compose[*]} -f $COMPOSE_FILE config -q warns:"
  printf '%s\n' "$errors" | sed 's/^/    /' >&2
else
  ok "${compose[*]} -f $COMPOSE_FILE config -q: valid, no warnings"
  compose_config="$("${compose_env[@]}" "${compose[@]}" -f "$COMPOSE_FILE" config 2>/dev/null)"
fi
# The PgBouncer variant (issue 16) is an override of the same file.
POOLER_FILE=docker-compose.pooler.yml
if [ -f "$POOLER_FILE" ]; then
  if ! errors="$("${compose_env[@]}" "${compose[@]}" -f "$COMPOSE_FILE" -f "$POOLER_FILE" config -q 2>&1)" \
    || [ -n "$errors" ]; then
    fail "${compose[*]} -f $COMPOSE_FILE -f $POOLER_FILE config -q rejects or warns:"
    printf '%s\n' "$errors" | sed 's/^/    /' >&2
  else
    ok "${compose[*]} -f $COMPOSE_FILE -f $POOLER_FILE config -q: valid, no warnings"
  fi
fi

# ---- parse the Dockerfile ---------------------------------------------------
# One line per instruction, continuation lines joined and comments dropped:
# "<stage number> <stage name or -> <INSTRUCTION> <arguments>".
dockerfile_instructions() {
  awk '
    function flush() {
      if (buf == "") return
      n = split(buf, w, /[ \t]+/)
      kw = toupper(w[1])
      if (kw == "FROM") {
        stage++
        name = "-"
        for (i = 2; i < n; i++) if (toupper(w[i]) == "AS") name = w[i + 1]
      }
      args = buf
      sub(/^[ \t]*[^ \t]+[ \t]*/, "", args)
      print stage, name, kw, args
      buf = ""
    }
    BEGIN { stage = -1; name = "-" }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { if (!cont) flush(); next }
    {
      line = $0
      cont = sub(/[ \t]*\\[ \t]*$/, "", line)
      sub(/^[ \t]+/, "", line)
      buf = (buf == "" ? line : buf " " line)
      if (!cont) flush()
    }
    END { flush() }
  ' "$DOCKERFILE"
}
instructions="$(dockerfile_instructions)"
last_stage="$(awk 'END { print $1 }' <<<"$instructions")"
build_stage="$(awk '$3 == "FROM" && tolower($2) == "build" { print $1; exit }' <<<"$instructions")"
build_stage="${build_stage:-0}"
if [ "$last_stage" = "$build_stage" ]; then
  fail "$DOCKERFILE has one stage; it needs a build stage and a runtime stage"
fi

stage_lines() { awk -v s="$1" '$1 == s' <<<"$instructions"; }
stage_image() {
  stage_lines "$1" | awk '$3 == "FROM" { for (i = 4; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }'
}

# Packages the stage's RUN instructions install with apt-get/apt install,
# one per line, without =version or :arch.
stage_packages() {
  stage_lines "$1" | awk '$3 == "RUN"' | cut -d' ' -f4- |
    awk '{
      gsub(/&&|\|\||;|\|/, "\n")
      n = split($0, cmds, "\n")
      for (c = 1; c <= n; c++) {
        m = split(cmds[c], w, /[ \t]+/)
        apt = 0
        installing = 0
        for (i = 1; i <= m; i++) {
          if (installing) {
            if (w[i] != "" && w[i] !~ /^-/) {
              p = w[i]; sub(/=.*/, "", p); sub(/:.*/, "", p); print p
            }
          } else if (w[i] ~ /^(\/usr\/bin\/)?apt(-get)?$/) {
            apt = 1
          } else if (apt && w[i] == "install") {
            installing = 1
          }
        }
      }
    }' | sort -u
}

# Both stages must be the Debian release this machine runs: the sonames and
# package names below come from this machine's ldd and dpkg.
host_release="$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo unknown)"
release_of() {
  case "$1" in
    debian:12 | debian:12-* | debian:12.* | debian:bookworm | debian:bookworm-*) echo 12 ;;
    *) echo "?" ;;
  esac
}
build_image="$(stage_image "$build_stage")"
runtime_image="$(stage_image "$last_stage")"
if [ "$(release_of "$build_image")" = 12 ] && [ "$(release_of "$runtime_image")" = 12 ]; then
  ok "build stage FROM $build_image, runtime stage FROM $runtime_image: both Debian 12"
else
  fail "build stage FROM $build_image and runtime stage FROM $runtime_image must both be Debian 12 (debian:12, debian:12-slim, bookworm...)"
fi
if [ "$host_release" != 12 ]; then
  fail "this machine is Debian '$host_release', not 12: the ldd/dpkg mapping below would not match the image"
fi

# ---- (a) build stage: the -dev package of every PKGS module ----------------
# shellcheck disable=SC2016 # $(PKGS) is for make, not the shell
pkgs="$(make -s --no-print-directory -f Makefile --eval 'compose-check-pkgs: ; @echo $(PKGS)' compose-check-pkgs)"
if [ -z "$pkgs" ]; then
  fail "could not read PKGS from the Makefile"
fi
build_packages="$(stage_packages "$build_stage")"
has_package() { grep -qxF -- "$2" <<<"$1"; }

needed_build=("${BUILD_TOOLS[@]}")
for module in $pkgs; do
  if [ -z "${DEV_PACKAGE[$module]:-}" ]; then
    fail "Makefile PKGS has pkg-config module '$module', which tests/compose/check.sh does not map to a Debian -dev package; add it to DEV_PACKAGE there and to the Dockerfile's build stage"
    continue
  fi
  needed_build+=("${DEV_PACKAGE[$module]}")
done
info "Makefile PKGS: $pkgs"
for p in "${needed_build[@]}"; do
  if has_package "$build_packages" "$p"; then
    ok "build stage installs $p"
  else
    fail "build stage ($DOCKERFILE, FROM $build_image) does not apt-get install $p"
  fi
done

# ---- (b) runtime stage: the package of every library ldd resolves ---------
if [ ! -x "$BIN" ]; then
  info "$BIN is missing; running make"
  make --no-print-directory "$BIN"
fi
runtime_packages="$(stage_packages "$last_stage")"
if ! ldd_output="$(ldd "$BIN" 2>&1)" || ! grep -q '=>' <<<"$ldd_output"; then
  fail "ldd $BIN lists no shared libraries: $ldd_output"
fi
libraries="$(awk '
  $2 == "=>" && $3 == "not" { print $1, "not found"; next }
  $2 == "=>" && $3 ~ /^\// { print $1, $3; next }
  $1 ~ /^\// { n = split($1, p, "/"); print p[n], $1 }
' <<<"$ldd_output")"
# One dpkg -S for all of them (it reads its whole database on every call).
# usrmerge: a library is registered under the path ldd printed, its symlink
# target, or the /usr path, so ask for all three.
declare -A owner=()
mapfile -t candidates < <(awk '$2 ~ /^\// { print $2; print "/usr" $2 }' <<<"$libraries"
  awk '$2 ~ /^\// { print $2 }' <<<"$libraries" | xargs -r readlink -f)
while IFS= read -r line; do
  # "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libcrypto.so.3" (or "a, b: path")
  case "$line" in diversion* | "") continue ;; esac
  pkg="${line%%: /*}"
  pkg="${pkg%%,*}"
  owner["/${line#*: /}"]="${pkg%%:*}"
done < <(dpkg -S "${candidates[@]}" 2>/dev/null || true)

declare -A runtime_needed=()
while read -r soname path; do
  if [ "$path" = "not found" ]; then
    fail "ldd $BIN: $soname not found on this machine"
    continue
  fi
  pkg="${owner[$path]:-${owner[/usr$path]:-${owner[$(readlink -f "$path")]:-}}}"
  if [ -z "$pkg" ]; then
    fail "dpkg -S: no Debian package owns $path ($soname)"
    continue
  fi
  runtime_needed[$pkg]+="${runtime_needed[$pkg]:+ }$soname"
done <<<"$libraries"

for pkg in $(printf '%s\n' "${!runtime_needed[@]}" | sort); do
  if printf '%s\n' "${BASE_IMAGE_PACKAGES[@]}" | grep -qxF -- "$pkg"; then
    info "runtime: $pkg (${runtime_needed[$pkg]}) is in the base image"
  elif has_package "$runtime_packages" "$pkg"; then
    ok "runtime stage installs $pkg (${runtime_needed[$pkg]})"
  else
    fail "runtime stage ($DOCKERFILE, FROM $runtime_image) does not apt-get install $pkg, which provides ${runtime_needed[$pkg]}"
  fi
done
for pkg in "${RUNTIME_EXTRA[@]}"; do
  if has_package "$runtime_packages" "$pkg"; then
    ok "runtime stage installs $pkg"
  else
    fail "runtime stage does not apt-get install $pkg (TLS to the SMTP server needs the CA store)"
  fi
done
forbidden="$(grep -E -- "$RUNTIME_FORBIDDEN_RE" <<<"$runtime_packages" || true)"
if [ -n "$forbidden" ]; then
  fail "runtime stage installs build-only packages: $(paste -sd' ' <<<"$forbidden")"
else
  ok "runtime stage installs no -dev packages or build tools"
fi

# ---- (c) runtime stage: non-root USER and a HEALTHCHECK ---------------------
runtime_user="$(stage_lines "$last_stage" | awk '$3 == "USER" { u = $4 } END { print u }')"
case "${runtime_user%%:*}" in
  "") fail "runtime stage has no USER instruction, so it runs as root" ;;
  root | 0) fail "runtime stage runs as USER $runtime_user (root)" ;;
  *) ok "runtime stage runs as USER $runtime_user" ;;
esac
healthcheck="$(stage_lines "$last_stage" | awk '$3 == "HEALTHCHECK" { h = $0 } END { print h }' | cut -d' ' -f4-)"
if [ -z "$healthcheck" ] || [ "$(tr '[:lower:]' '[:upper:]' <<<"$healthcheck")" = NONE ]; then
  fail "runtime stage has no HEALTHCHECK"
else
  ok "runtime stage has a HEALTHCHECK"
fi

# ---- files the Dockerfile copies from the build context exist -------------
# A missing one (or one .dockerignore leaves out) fails `docker build`.
# .dockerignore is matched approximately: patterns in order, the last match
# wins, `!` re-includes, a pattern also covers everything below it.
ignore_patterns=()
if [ -f .dockerignore ]; then
  mapfile -t ignore_patterns < <(sed -e 's/[[:space:]]*$//' -e '/^#/d' -e '/^$/d' .dockerignore)
fi
is_dockerignored() {
  local path="${1%/}" pattern negate excluded=0
  for pattern in "${ignore_patterns[@]}"; do
    negate=0
    if [ "${pattern#!}" != "$pattern" ]; then
      negate=1
      pattern="${pattern#!}"
    fi
    pattern="${pattern%/}"
    pattern="${pattern#./}"
    # shellcheck disable=SC2053 # the pattern is a glob on purpose
    if [[ $path == $pattern || $path == $pattern/* ]]; then
      excluded=$((1 - negate))
    fi
  done
  [ "$excluded" -eq 1 ]
}
copy_sources="$(awk '($3 == "COPY" || $3 == "ADD") && $0 !~ /--from=/ {
  line = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", line); gsub(/[][",]/, " ", line)
  n = split(line, w, /[ \t]+/); m = 0
  for (i = 1; i <= n; i++) if (w[i] != "" && w[i] !~ /^--/) a[++m] = w[i]
  for (i = 1; i < m; i++) print a[i]
}' <<<"$instructions" | sort -u)"
for src in $copy_sources; do
  if [ "$src" = . ]; then
    continue
  elif [[ $src == *[*?[]* ]]; then
    info "COPY $src: a wildcard, not checked"
  elif [ ! -e "$src" ]; then
    fail "$DOCKERFILE copies $src, which does not exist in $ROOT (docker build would fail)"
  elif is_dockerignored "$src"; then
    fail "$DOCKERFILE copies $src, which .dockerignore leaves out of the build context"
  else
    ok "build context has $src (copied by $DOCKERFILE)"
  fi
done

# ---- (d) every variable api/worker set is documented in README.md ----------
# shellcheck disable=SC2016 # the backquotes are Markdown, not the shell
documented="$(awk '
  /^## / { in_config = ($0 ~ /^## Configuration/) ; next }
  in_config && /^\|/ { split($0, cells, "|"); print cells[2] }
' README.md | grep -oE '`[A-Z][A-Z0-9_]*`' | tr -d '`' | sort -u)"
if [ -z "$documented" ]; then
  fail "found no variables in README.md's '## Configuration' table"
fi

# The normalized `config` output (2- or 4-space indent, environment always a
# mapping, long values wrapped onto deeper lines) as records:
# "service <name>", "built <name>" (has build:) and "env <name> <VAR>".
compose_facts() {
  awk '
    function indent(s) { match(s, /^ */); return RLENGTH }
    /^[^ #]/ { in_services = ($0 ~ /^services:/); next }
    !in_services || /^[ \t]*$/ { next }
    {
      ind = indent($0)
      if (svc_ind == 0) svc_ind = ind
      if (ind == svc_ind) {
        svc = $1; sub(/:$/, "", svc); in_env = 0
        print "service", svc
        next
      }
      if (in_env && ind > svc_ind * 2) {
        if (entry_ind == 0) entry_ind = ind
        if (ind == entry_ind) {
          key = $0; sub(/^[ -]+/, "", key); sub(/[=:].*/, "", key)
          print "env", svc, key
        }
        next
      }
      in_env = 0
      if (ind == svc_ind * 2 && $1 == "environment:") { in_env = 1; entry_ind = 0 }
      if (ind == svc_ind * 2 && $1 ~ /^build:?$/) print "built", svc
    }
  ' <<<"$compose_config"
}

if [ -n "$compose_config" ]; then
  facts="$(compose_facts)"
  # api and worker, and anything else that runs the image built here.
  mapfile -t services_to_check < <({
    printf '%s\n' api worker
    awk '$1 == "built" { print $2 }' <<<"$facts"
  } | sort -u)
  for svc in "${services_to_check[@]}"; do
    if ! grep -qxF "service $svc" <<<"$facts"; then
      fail "$COMPOSE_FILE has no service '$svc'"
      continue
    fi
    vars="$(awk -v s="$svc" '$1 == "env" && $2 == s { print $3 }' <<<"$facts" | sort -u)"
    undocumented=()
    for v in $vars; do
      grep -qxF -- "$v" <<<"$documented" || undocumented+=("$v")
    done
    if [ ${#undocumented[@]} -eq 0 ]; then
      ok "service $svc sets only documented variables: $(paste -sd' ' <<<"$vars")"
    else
      fail "service $svc sets variables README.md's Configuration table does not document: ${undocumented[*]}"
    fi
  done
else
  fail "skipped the api/worker environment check: fix the compose file first"
fi
# ENV KEY=value ... or the legacy ENV KEY value.
env_vars="$(stage_lines "$last_stage" | awk '$3 == "ENV" {
  if ($4 !~ /=/) { print $4; next }
  for (i = 4; i <= NF; i++) if ($i ~ /^[A-Za-z_][A-Za-z0-9_]*=/) { sub(/=.*/, "", $i); print $i }
}')"
for v in $env_vars; do
  if grep -qxF -- "$v" <<<"$documented"; then
    ok "runtime stage ENV $v is documented"
  else
    fail "runtime stage sets ENV $v, which README.md's Configuration table does not document"
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "compose-check: $failures problem(s) in $DOCKERFILE / $COMPOSE_FILE (see FAIL lines above)" >&2
  exit 1
fi
echo "compose-check: all checks passed"
