#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the local services and the tests need,
# but only those that are missing, so re-running it is cheap and offline-safe.
set -euo pipefail

packages=(
  build-essential pkg-config
  libulfius-dev libjansson-dev libpq-dev libargon2-dev libesmtp-dev libssl-dev libmicrohttpd-dev check
  libsodium-dev
  postgresql postgresql-contrib
  python3 python3-aiosmtpd
  curl ca-certificates
  cppcheck clang-tidy valgrind
  # The contract, generated-client and browser tests (issue 4).
  nodejs chromium docker-compose
  # The cluster test (issue 16): a real pooler and load balancer.
  pgbouncer nginx
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && command -v npm >/dev/null 2>&1; then
  exit 0
fi

echo "install-deps: installing ${missing[*]:-npm}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Debian's own nodejs package ships npm separately; NodeSource's includes it.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
