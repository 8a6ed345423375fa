#!/usr/bin/env bash
# Prints the Debian packages missing for the given pkg-config names, space
# separated (nothing when all are there). The Makefile calls it so that a plain
# `make` on a fresh machine stops with one line naming them.
#   scripts/check-build-deps.sh <pkg-config name>...
set -uo pipefail

declare -A DEBIAN_PACKAGE=(
  [libulfius]=libulfius-dev [jansson]=libjansson-dev [libpq]=libpq-dev [libargon2]=libargon2-dev
  [libesmtp-1.0]=libesmtp-dev [libcrypto]=libssl-dev [libmicrohttpd]=libmicrohttpd-dev [check]=check
  [libsodium]=libsodium-dev
)

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
for name in "$@"; do
  pkg-config --exists "$name" 2>/dev/null || missing+=("${DEBIAN_PACKAGE[$name]:-$name}")
done
echo "${missing[*]}"
