#!/bin/sh
# Writes the userlist from the environment (PgBouncer logs in to PostgreSQL
# with SCRAM on the clients' behalf, so it needs the password itself), then
# runs PgBouncer in the foreground.
set -eu
: "${PGBOUNCER_USER:?}" "${PGBOUNCER_PASSWORD:?}"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" >/tmp/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
