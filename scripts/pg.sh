#!/usr/bin/env bash
# Local PostgreSQL for development and scripts/cluster.sh, run from the installed binaries in a
# directory of our choosing (not the distribution's cluster), so it can be thrown away freely.
#
#   scripts/pg.sh start DIR PORT            initdb if needed, start on 127.0.0.1:PORT (idempotent)
#   scripts/pg.sh stop DIR                  fast shutdown (no-op if not running)
#   scripts/pg.sh status DIR                print state; exit 0 if running, 3 if not
#   scripts/pg.sh createdb DIR PORT NAME    create database NAME unless it exists; print its URL
#   scripts/pg.sh bindir                    print the server bin dir (installing it as root)
#
# Layout: DIR/data (cluster), DIR/postgres.log (server log), DIR/.s.PGSQL.PORT (socket).
# Binaries: $RAFTBUS_PG_BIN, else /usr/lib/postgresql/15/bin, else `pg_config --bindir`.
# initdb/postgres refuse to run as root, so as root DIR is chowned to `postgres` and the server
# runs as that user via runuser.
set -euo pipefail

die() { echo "pg.sh: error: $*" >&2; exit 1; }
say() { echo "pg.sh: $*"; }

usage() {
    sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# Prints the bin dir containing initdb, or nothing.
find_bindir() {
    local d
    if [[ -n "${RAFTBUS_PG_BIN:-}" ]]; then
        [[ -x "$RAFTBUS_PG_BIN/initdb" ]] || die "RAFTBUS_PG_BIN=$RAFTBUS_PG_BIN has no initdb"
        echo "$RAFTBUS_PG_BIN"
        return
    fi
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$d" && -x "$d/initdb" ]]; then
            echo "$d"
        fi
    fi
}

# Sets PG_BIN, installing PostgreSQL through apt when it is missing and we are root.
ensure_bindir() {
    PG_BIN="$(find_bindir)"
    [[ -n "$PG_BIN" ]] && return
    is_root || die "PostgreSQL server binaries not found. Install them (e.g. 'sudo apt-get install -y postgresql-15') or set RAFTBUS_PG_BIN to the directory holding initdb and pg_ctl."
    say "PostgreSQL binaries not found; installing them with apt-get" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 >&2 ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 ||
        die "apt-get could not install postgresql-15 or postgresql"
    PG_BIN="$(find_bindir)"
    [[ -n "$PG_BIN" ]] || die "PostgreSQL was installed but initdb is still not found"
}

# Runs a server-side tool, as the postgres user when we are root.
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Absolute path of DIR (created if missing).
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

is_running() { as_pg "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; }

# Port of a running server, from line 4 of postmaster.pid.
running_port() { sed -n 4p "$1/data/postmaster.pid" 2>/dev/null || true; }

cmd_start() {
    local dir port
    dir="$(abs_dir "$1")"
    port="$2"
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    # Unix socket paths are limited to 107 bytes.
    (( ${#dir} + 20 < 107 )) || die "DIR path too long for a Unix socket: $dir"
    ensure_bindir
    if is_running "$dir"; then
        local running
        running="$(running_port "$dir")"
        [[ "$running" == "$port" ]] ||
            say "warning: already running on port $running, not $port" >&2
        say "already running in $dir (port $running)"
        return
    fi
    if is_root; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
        chown -R postgres:postgres "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "user postgres cannot write $dir (is a parent directory private to root?)"
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        say "initdb in $dir/data"
        (cd "$dir" && as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
            --locale=C --no-sync >"$dir/initdb.log" 2>&1) ||
            die "initdb failed; see $dir/initdb.log:$(echo; tail -n 20 "$dir/initdb.log")"
    fi
    say "starting PostgreSQL on 127.0.0.1:$port (log: $dir/postgres.log)"
    if ! (cd "$dir" && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c max_connections=300 $PG_TUNING" \
        start >/dev/null); then
        echo "--- tail of $dir/postgres.log ---" >&2
        tail -n 20 "$dir/postgres.log" >&2 || true
        die "PostgreSQL failed to start on port $port"
    fi
    say "running: postgres://postgres@127.0.0.1:$port/postgres"
}

# Durability stays on (fsync, synchronous_commit, full_page_writes). The rest suits a write-heavy
# broker: fewer forced checkpoints (each one is followed by full-page images in the WAL) and a
# little more cache than the 128 MB default.
PG_TUNING="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_wal_size=4GB \
-c checkpoint_timeout=15min -c shared_buffers=256MB -c wal_buffers=16MB"

cmd_stop() {
    local dir
    [[ -d "$1" ]] || { say "no directory $1; nothing to stop"; return; }
    dir="$(abs_dir "$1")"
    ensure_bindir
    if ! is_running "$dir"; then
        say "not running ($dir)"
        return
    fi
    (cd "$dir" && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null)
    say "stopped ($dir)"
}

cmd_status() {
    local dir
    [[ -d "$1" ]] || { echo "stopped (no directory $1)"; exit 3; }
    dir="$(abs_dir "$1")"
    ensure_bindir
    if is_running "$dir"; then
        echo "running on 127.0.0.1:$(running_port "$dir") (pid $(sed -n 1p "$dir/data/postmaster.pid"), dir $dir)"
    else
        echo "stopped ($dir)"
        exit 3
    fi
}

cmd_createdb() {
    local dir port name exists
    dir="$(abs_dir "$1")"
    port="$2"
    name="$3"
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "database name must match [A-Za-z_][A-Za-z0-9_]*: '$name'"
    ensure_bindir
    is_running "$dir" || die "PostgreSQL in $dir is not running; run: $0 start $dir $port"
    exists="$("$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = '$name'")"
    if [[ "$exists" == 1 ]]; then
        say "database $name already exists" >&2
    else
        "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
        say "created database $name" >&2
    fi
    echo "postgres://postgres@127.0.0.1:$port/$name"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        start) [[ $# -eq 2 ]] || usage; cmd_start "$@" ;;
        stop) [[ $# -eq 1 ]] || usage; cmd_stop "$@" ;;
        status) [[ $# -eq 1 ]] || usage; cmd_status "$@" ;;
        createdb) [[ $# -eq 3 ]] || usage; cmd_createdb "$@" ;;
        bindir) [[ $# -eq 0 ]] || usage; ensure_bindir; echo "$PG_BIN" ;;
        *) usage ;;
    esac
}

main "$@"
