# signup-api image: a Debian 12 build stage compiles build/signup-api with the
# -dev packages; the runtime stage is debian:12-slim with only the shared
# libraries the binary loads, running as an unprivileged user.
# Build: docker build -t signup-api .   Run: docker compose up (docker-compose.yml).
# tests/compose/check.sh (part of `make test`) checks the package lists below
# against the Makefile's PKGS and `ldd build/signup-api`.

# ---- build ------------------------------------------------------------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The -dev packages for the Makefile's PKGS (libulfius jansson libpq libargon2
# libesmtp-1.0 libcrypto libmicrohttpd libsodium); no `check`, since only the server is built here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libulfius-dev libjansson-dev libpq-dev libargon2-dev libesmtp-dev libssl-dev libmicrohttpd-dev \
      libsodium-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `make` builds build/signup-api only (see .dockerignore for what is left out).
RUN make -j"$(nproc)"

# ---- runtime ----------------------------------------------------------------
# Same Debian release as the build stage, so the sonames below match.
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
# Every package `ldd build/signup-api` resolves to (mapped with `dpkg -S`),
# except libc6, which the base image has. Most of the indirect ones would come
# in as dependencies anyway; naming them keeps the list checkable.
#   direct (Makefile PKGS): libulfius2.7 libjansson4 libpq5 libargon2-1 libssl3
#     libesmtp6 (also holds the SASL plug-ins libESMTP dlopen()s for SMTP AUTH) libsodium23
#   Ulfius: libmicrohttpd12 liborcania2.3 libyder2.0 libcurl3-gnutls libgnutls30 zlib1g
#   libpq: libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2
#     libkeyutils1 libldap-2.5-0 libsasl2-2
#   curl/gnutls: libnghttp2-14 librtmp1 libssh2-1 libpsl5 libidn2-0 libunistring2
#     libbrotli1 libzstd1 libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libgmp10
#     libffi8 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblzma5 liblz4-1
# ca-certificates: libESMTP verifies the SMTP server's certificate (STARTTLS)
# against OpenSSL's default CA paths; ldd cannot show that.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libulfius2.7 libjansson4 libpq5 libargon2-1 libesmtp6 libssl3 \
      libmicrohttpd12 liborcania2.3 libyder2.0 libcurl3-gnutls libgnutls30 zlib1g \
      libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 \
      libkeyutils1 libldap-2.5-0 libsasl2-2 \
      libnghttp2-14 librtmp1 libssh2-1 libpsl5 libidn2-0 libunistring2 \
      libbrotli1 libzstd1 libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libgmp10 \
      libffi8 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblzma5 liblz4-1 \
      libsodium23 \
 && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid, so volume permissions and Kubernetes'
# runAsNonRoot can rely on it. No home directory and no login shell.
RUN groupadd --gid 10001 signup \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --no-log-init signup

# signup-api finds data/, db/migrations/ and openapi.yaml relative to its
# working directory. The files stay owned by root: the service only reads them.
WORKDIR /app
COPY data/ ./data/
COPY db/migrations/ ./db/migrations/
COPY openapi.yaml ./
COPY --from=build /src/build/signup-api ./signup-api

# The default (127.0.0.1) would be unreachable from outside the container.
ENV BIND_ADDRESS=0.0.0.0
EXPOSE 8080
USER 10001:10001

# The slim image has no curl or wget, and installing curl only for this would
# add a package (and attack surface) to every container. bash is already there
# (it is Essential in Debian), and its /dev/tcp redirection can speak enough
# HTTP/1.0 to see the status line of GET /healthz. It follows PORT and
# BIND_ADDRESS (a wildcard address is probed on loopback). `--worker-only`
# containers serve no HTTP; docker-compose.yml disables this check for them.
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
  CMD ["bash", "-c", "host=${BIND_ADDRESS:-127.0.0.1}; case $host in 0.0.0.0) host=127.0.0.1 ;; ::) host=::1 ;; esac; exec 3<>\"/dev/tcp/$host/${PORT:-8080}\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 2 status <&3 && [[ $status == 'HTTP/1.'?' 200 '* ]]"]

# One socket per HTTP connection: signup-api raises its soft open-file limit
# to the hard one and sizes MAX_CONNECTIONS from it, so give the container a
# hard limit that fits (docker run --ulimit nofile=65536:65536;
# docker-compose.yml sets it). An image cannot set it itself.
# SIGTERM (docker stop) makes it stop HTTP, let the mail workers finish their
# SMTP session, then exit; it handles signals itself, so it can be PID 1.
ENTRYPOINT ["/app/signup-api"]
