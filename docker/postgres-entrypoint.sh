#!/bin/sh
# Entrypoint of raftbus/postgres:15 (baked in by scripts/docker.sh build).
#
# First start (empty data dir): initdb, trust auth for local connections and for hosts on the
# container's own subnets (`samenet`: the private test network only), and create POSTGRES_DB.
# Every start: exec postgres (PID 1, fast shutdown on SIGINT = the image's STOPSIGNAL) listening
# on all addresses. Durability stays on: fsync, synchronous_commit and full_page_writes are
# forced on, whatever postgresql.conf says.
#
# Environment: POSTGRES_DB (database to create on first start; default "postgres", which always
# exists), POSTGRES_HBA (address field of the host rule; default "samenet").
set -eu

D=/var/lib/postgresql/data

# Started as root (e.g. with a bind mount): fix ownership, then drop to postgres.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$D" /run/postgresql
    chown postgres:postgres "$D" /run/postgresql
    chmod 700 "$D"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$D/PG_VERSION" ]; then
    echo "postgres-entrypoint: initializing $D"
    initdb -D "$D" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=trust >/dev/null
    echo "host all all ${POSTGRES_HBA:-samenet} trust" >>"$D/pg_hba.conf"
    db="${POSTGRES_DB:-postgres}"
    if [ "$db" != postgres ]; then
        # Single-user mode: nothing listens yet, so clients see "connection refused" (and retry)
        # rather than a missing database.
        echo "CREATE DATABASE \"$db\";" | postgres --single -D "$D" postgres >/dev/null
        echo "postgres-entrypoint: created database $db"
    fi
fi

exec postgres -D "$D" \
    -c listen_addresses='*' \
    -c unix_socket_directories=/run/postgresql \
    -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
    "$@"
