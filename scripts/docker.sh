#!/usr/bin/env bash
# Raftbus in Docker, built with no image registry: 3 managers, 3 brokers and one Postgres
# container per node on a private bridge network with static IPs (docker/compose.yml).
#
#   scripts/docker.sh build [--force]  cargo build, then the images (skips up-to-date ones)
#   scripts/docker.sh up               start the cluster, wait for /health, print the exports
#   scripts/docker.sh down             stop and remove containers, network and volumes
#   scripts/docker.sh ps               the containers
#   scripts/docker.sh logs NAME [-f]   a container's log, e.g. broker-1 or pg-manager-2
#   scripts/docker.sh env              the export lines `up` prints (bootstrap, CA, token)
#
# Images: raftbus/broker:dev, raftbus/manager:dev, raftbus/tools:dev (producer, consumer):
# FROM scratch with the binary and the shared libraries `ldd` lists. raftbus/postgres:15: a
# Debian bookworm rootfs with postgresql-15 made by mmdebstrap from the host's apt sources,
# `docker import`ed (raftbus/postgres-rootfs:15), plus docker/postgres-entrypoint.sh.
# An image is rebuilt only when its inputs changed (label org.raftbus.input) or with --force;
# the rootfs tarball is cached in .docker-cache/.
#
# Environment: RAFTBUS_NO_BUILD=1 (skip cargo build), RAFTBUS_PROFILE (release, or debug: the
# images carry target/debug's binaries, as the test suite's crash stage does to skip a release
# build), RAFTBUS_BIN_DIR (target/$RAFTBUS_PROFILE),
# RAFTBUS_STRIP=1 (strip debug info from the binaries in the images), UP_TIMEOUT seconds (90),
# APT_SOURCES (/etc/apt/sources.list.d/debian.sources: the mirror mmdebstrap uses),
# RUST_LOG (passed to the containers), INSECURE=1 (`up`: plain HTTP, no certificates, no token:
# every node gets RAFTBUS_SECURITY__INSECURE=true), RAFTBUS_DOCKER_TLS_DIR (.docker-cache/tls).
#
# Security (the default): `up` makes, with scripts/certs.sh, a cluster CA, one certificate per
# manager and broker (valid for ROLE-N.node.raftbus, the container's host name and its static
# IP) and an admin token in RAFTBUS_DOCKER_TLS_DIR (kept across runs; delete the directory to
# make new ones). Each node gets a copy of the CA, its certificate and key (owned by the image's
# uid) in TLS_DIR/mount/NAME, mounted read-only at /etc/raftbus/tls, and the token's SHA-256;
# every listener then speaks TLS (client API and Raft), the client API wants the token.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE="$ROOT/docker/compose.yml"
PROJECT=raftbus
# shellcheck source=scripts/profile.sh
source "$ROOT/scripts/profile.sh"
CACHE_DIR="$ROOT/.docker-cache"
APT_SOURCES="${APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
UP_TIMEOUT="${UP_TIMEOUT:-90}"

# Must match docker/compose.yml.
SUBNET_PREFIX=172.29.50
MANAGER_IPS=("$SUBNET_PREFIX.11" "$SUBNET_PREFIX.12" "$SUBNET_PREFIX.13")
BROKER_IPS=("$SUBNET_PREFIX.21" "$SUBNET_PREFIX.22" "$SUBNET_PREFIX.23")
MANAGER_PORT=9081
BROKER_PORT=9091

# TLS material (see the header); docker/compose.yml mounts TLS_DIR/mount/NAME into container
# NAME at /etc/raftbus/tls.
TLS_DIR="$(realpath -m "${RAFTBUS_DOCKER_TLS_DIR:-$CACHE_DIR/tls}")" # absolute: compose resolves
# relative bind-mount sources against docker/
CERTS_SH="$ROOT/scripts/certs.sh"
case "${INSECURE:-0}" in
    1 | true) INSECURE=1 ;;
    0 | false | "") INSECURE=0 ;;
    *) echo "docker.sh: error: INSECURE must be 1 or 0, got '$INSECURE'" >&2; exit 2 ;;
esac

IMG_BROKER=raftbus/broker:dev
IMG_MANAGER=raftbus/manager:dev
IMG_TOOLS=raftbus/tools:dev
IMG_PG_ROOTFS=raftbus/postgres-rootfs:15
IMG_PG=raftbus/postgres:15
LABEL=org.raftbus.input
APP_UID=10001

FORCE=0
WORK="" # scratch space of one build (contexts, logs), removed on exit
cleanup() { [[ -z "$WORK" ]] || rm -rf "$WORK"; }
trap cleanup EXIT

die() { echo "docker.sh: error: $*" >&2; exit 1; }
say() { echo "docker.sh: $*"; }
usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# A fresh directory under $WORK (safe in $(...): cleanup removes $WORK as a whole).
new_tmp() { mktemp -d "$WORK/XXXXXX"; }

# docker build with the legacy builder (no buildx here), quiet unless it fails.
docker_build() {
    local log old
    log="$(new_tmp)/build.log"
    old="$(image_id "$1")"
    docker build -q -t "$@" >"$log" 2>&1 || { cat "$log" >&2; die "docker build -t $1 failed"; }
    drop_replaced "$1" "$old"
}

# The compose file takes the TLS directory, the security switch and the token's hash from these
# (required there: the file is meant to be used through this script).
compose() {
    RAFTBUS_DOCKER_TLS_MOUNT="$TLS_DIR/mount" \
        RAFTBUS_DOCKER_INSECURE="$( ((INSECURE)) && echo true || echo false)" \
        RAFTBUS_DOCKER_TOKEN_SHA256="${TOKEN_SHA256:-}" \
        docker-compose -f "$COMPOSE_FILE" -p "$PROJECT" "$@"
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
# After TAG was rebuilt, removes the image it replaced (OLD_ID) unless something still uses it.
drop_replaced() {
    local tag="$1" old="$2"
    [[ -n "$old" && "$old" != "$(image_id "$tag")" ]] || return 0
    docker rmi "$old" >/dev/null 2>&1 || true
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_input() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# True (and says so) when TAG exists with input hash HASH and --force was not given.
up_to_date() {
    local tag="$1" hash="$2"
    if ((FORCE == 0)) && [[ "$(image_input "$tag")" == "$hash" ]]; then
        say "$tag is up to date (--force rebuilds)"
        return 0
    fi
    return 1
}

# Hash of every file under DIR (paths, modes and contents) plus any extra strings.
tree_hash() {
    local dir="$1"
    shift
    {
        (cd "$dir" && find . -type f -printf '%p %m\n' | LC_ALL=C sort && find . -type f -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum)
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1
}

# Shared libraries BIN needs (absolute paths), one a line; none for a static binary.
bin_libs() {
    local out
    if ! out="$(ldd "$1" 2>&1)"; then
        [[ "$out" == *"not a dynamic executable"* || "$out" == *"statically linked"* ]] && return 0
        die "ldd $1 failed: $out"
    fi
    [[ "$out" != *"not found"* ]] || die "ldd $1: missing libraries:"$'\n'"$out"
    awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}

# ---- FROM scratch images --------------------------------------------------------------------

# build_scratch_image TAG ENTRYPOINT_BIN BIN...: a scratch image holding the binaries in
# /usr/local/bin, exactly the libraries ldd lists (paths preserved), a one-user /etc/passwd
# and /tmp. ENTRYPOINT_BIN may be empty (then no entrypoint).
build_scratch_image() {
    local tag="$1" entry="$2" ctx root bin lib hash
    shift 2
    ctx="$(new_tmp)"
    root="$ctx/rootfs"
    mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp"
    chmod 1777 "$root/tmp"
    for bin in "$@"; do
        [[ -x "$BIN_DIR/$bin" ]] || die "$BIN_DIR/$bin not found; run 'cargo build ${CARGO_PROFILE[*]} --bins' (or unset RAFTBUS_NO_BUILD)"
        cp "$BIN_DIR/$bin" "$root/usr/local/bin/$bin"
        if [[ "${RAFTBUS_STRIP:-0}" == 1 ]]; then strip --strip-debug "$root/usr/local/bin/$bin"; fi
        while read -r lib; do
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib" # -L: /lib64/ld-linux-x86-64.so.2 is a symlink
        done < <(bin_libs "$BIN_DIR/$bin")
    done
    printf 'root:x:0:0:root:/:/sbin/nologin\nraftbus:x:%s:%s:raftbus:/tmp:/sbin/nologin\n' \
        "$APP_UID" "$APP_UID" >"$root/etc/passwd"
    printf 'root:x:0:\nraftbus:x:%s:\n' "$APP_UID" >"$root/etc/group"
    printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
    {
        echo "FROM scratch"
        echo "COPY rootfs/ /"
        echo "ENV PATH=/usr/local/bin NO_COLOR=1"
        echo "USER $APP_UID:$APP_UID"
        echo "WORKDIR /tmp"
        echo "STOPSIGNAL SIGTERM"
        if [[ -n "$entry" ]]; then
            echo "ENTRYPOINT [\"/usr/local/bin/$entry\"]"
        else
            echo "CMD [\"/usr/local/bin/$1\", \"--help\"]"
        fi
    } >"$ctx/Dockerfile"
    hash="$(tree_hash "$ctx")"
    up_to_date "$tag" "$hash" && return 0
    echo "LABEL $LABEL=$hash" >>"$ctx/Dockerfile"
    say "building $tag ($(du -sh "$root" | cut -f1) of files)"
    docker_build "$tag" "$ctx"
}

# ---- Postgres image -------------------------------------------------------------------------

# The rootfs recipe; its text is part of the cache key. The hook drops the cluster the Debian
# package creates and makes the directories Docker's systemd-less start needs.
# shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell, not here
PG_HOOK='chroot "$1" sh -c "rm -rf /var/lib/postgresql/15 /etc/postgresql/15 && install -d -o postgres -g postgres -m 2775 /run/postgresql && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data"'
PG_MMDEBSTRAP_ARGS=(
    --variant=minbase --include=postgresql-15 --format=tar
    "--customize-hook=$PG_HOOK"
    --skip=cleanup/run # mmdebstrap empties /run last by default, /run/postgresql included
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
)
PG_PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Makes $CACHE_DIR/postgres-15-rootfs.tar (unless cached with the same recipe).
pg_rootfs() {
    local tar="$CACHE_DIR/postgres-15-rootfs.tar" recipe="$1" start
    if ((FORCE == 0)) && [[ -s "$tar" && "$(cat "$tar.recipe" 2>/dev/null)" == "$recipe" ]]; then
        say "using cached rootfs $tar"
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "mmdebstrap needs root to build the Postgres rootfs"
    [[ -f "$APT_SOURCES" ]] || die "apt sources file $APT_SOURCES not found (set APT_SOURCES)"
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        say "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y mmdebstrap >/dev/null ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y mmdebstrap >/dev/null; } ||
            die "could not install mmdebstrap"
    fi
    mkdir -p "$CACHE_DIR"
    rm -f "$tar" "$tar.recipe" "$tar.partial"
    say "building the Debian bookworm + postgresql-15 rootfs with mmdebstrap (a few minutes)"
    start=$SECONDS
    mmdebstrap --quiet "${PG_MMDEBSTRAP_ARGS[@]}" bookworm "$tar.partial" "$APT_SOURCES" ||
        die "mmdebstrap failed"
    mv "$tar.partial" "$tar"
    echo "$recipe" >"$tar.recipe"
    say "rootfs: $(du -h "$tar" | cut -f1) in $((SECONDS - start)) s"
}

build_pg_images() {
    local recipe ctx hash old
    recipe="$(printf '%s\n' "${PG_MMDEBSTRAP_ARGS[@]}" | sha256sum | cut -d' ' -f1)"
    if up_to_date "$IMG_PG_ROOTFS" "$recipe"; then
        :
    else
        pg_rootfs "$recipe"
        # This daemon (20.10) refuses `--change 'STOPSIGNAL ...'` on import ("not a valid change
        # command"): the Dockerfile below sets STOPSIGNAL SIGINT instead.
        say "importing $IMG_PG_ROOTFS"
        old="$(image_id "$IMG_PG_ROOTFS")"
        docker import \
            --change "ENV PATH=$PG_PATH" \
            --change 'USER postgres' \
            --change "LABEL $LABEL=$recipe" \
            "$CACHE_DIR/postgres-15-rootfs.tar" "$IMG_PG_ROOTFS" >/dev/null
        drop_replaced "$IMG_PG_ROOTFS" "$old"
    fi
    ctx="$(new_tmp)"
    cp "$ROOT/docker/postgres-entrypoint.sh" "$ctx/entrypoint.sh"
    chmod 755 "$ctx/entrypoint.sh"
    cat >"$ctx/Dockerfile" <<EOF
FROM $IMG_PG_ROOTFS
COPY entrypoint.sh /usr/local/bin/raftbus-postgres-entrypoint
USER postgres
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/raftbus-postgres-entrypoint"]
EOF
    # The base's own input hash is part of ours: a new rootfs rebuilds this image too.
    hash="$(tree_hash "$ctx" "$(image_input "$IMG_PG_ROOTFS")")"
    up_to_date "$IMG_PG" "$hash" && return 0
    echo "LABEL $LABEL=$hash" >>"$ctx/Dockerfile"
    say "building $IMG_PG"
    docker_build "$IMG_PG" "$ctx" # FROM a local tag: nothing is pulled
}

cmd_build() {
    local start=$SECONDS t
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/raftbus-docker.XXXXXX")"
    case "${1:-}" in
        "") ;;
        --force) FORCE=1 ;;
        *) usage ;;
    esac
    if [[ "${RAFTBUS_NO_BUILD:-0}" != 1 ]]; then
        say "cargo build ${CARGO_PROFILE[*]} --bins (RAFTBUS_NO_BUILD=1 skips this)"
        (cd "$ROOT" && cargo build "${CARGO_PROFILE[@]}" --bins)
    fi
    t=$SECONDS
    build_scratch_image "$IMG_BROKER" broker broker
    build_scratch_image "$IMG_MANAGER" manager manager
    build_scratch_image "$IMG_TOOLS" "" producer consumer
    say "binary images: $((SECONDS - t)) s"
    t=$SECONDS
    build_pg_images
    say "postgres image: $((SECONDS - t)) s"
    docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}\t{{.CreatedSince}}' |
        grep '^raftbus/' | sort
    say "build done in $((SECONDS - start)) s"
}

# ---- Cluster --------------------------------------------------------------------------------

bootstrap() {
    local ip out=""
    for ip in "${MANAGER_IPS[@]}"; do out+="${out:+,}$ip:$MANAGER_PORT"; done
    echo "$out"
}

# Container names with their role, id and IP: "NAME ROLE ID IP", one a line.
nodes() {
    local i
    for i in "${!MANAGER_IPS[@]}"; do echo "manager-$((i + 1)) manager $((i + 1)) ${MANAGER_IPS[$i]}"; done
    for i in "${!BROKER_IPS[@]}"; do echo "broker-$((i + 1)) broker $((i + 1)) ${BROKER_IPS[$i]}"; done
}

# Makes (or keeps) the CA, one certificate per node and the admin token in TLS_DIR, and copies
# each node's files to TLS_DIR/mount/NAME (ca.pem, node.pem, node.key) readable by the image's
# uid only. Sets TOKEN_SHA256. In insecure mode only the (empty) mount directories are made.
prepare_tls() {
    local name role id ip m
    [[ "$TLS_DIR" != *\'* ]] || die "RAFTBUS_DOCKER_TLS_DIR must not contain a single quote"
    mkdir -p "$TLS_DIR/mount"
    chmod 700 "$TLS_DIR"
    while read -r name role id ip; do mkdir -p "$TLS_DIR/mount/$name"; done < <(nodes)
    ((INSECURE)) && return 0
    [[ -x "$CERTS_SH" ]] || die "$CERTS_SH is missing or not executable"
    "$CERTS_SH" "$TLS_DIR" ca
    "$CERTS_SH" "$TLS_DIR" token admin
    TOKEN_SHA256="$(cat "$TLS_DIR/admin.token.sha256")"
    [[ "$TOKEN_SHA256" =~ ^[0-9a-f]{64}$ ]] || die "bad token hash in $TLS_DIR/admin.token.sha256"
    while read -r name role id ip; do
        # Valid for ROLE-ID.node.raftbus, localhost, 127.0.0.1 (certs.sh) plus the names the
        # other containers and the host reach the node at.
        "$CERTS_SH" "$TLS_DIR" node "$role" "$id" "$name" "$ip"
        m="$TLS_DIR/mount/$name"
        install -m 644 "$TLS_DIR/ca.pem" "$m/ca.pem"
        install -m 644 "$TLS_DIR/$role-$id.pem" "$m/node.pem"
        install -m 600 "$TLS_DIR/$role-$id.key" "$m/node.key"
        if [[ "$(id -u)" == 0 ]]; then
            chown -R "$APP_UID:$APP_UID" "$m"
            chmod 700 "$m"
        else
            # Without root the files cannot be given to uid $APP_UID: make them readable (the
            # directory above, mode 700, still keeps other host users out).
            chmod 755 "$m"
            chmod 644 "$m/node.key"
        fi
    done < <(nodes)
}

# The lines a user evaluates to reach the cluster (the token is read from its file, so it is
# not printed).
print_env() {
    echo "export RAFTBUS_BOOTSTRAP=$(bootstrap)"
    if ((INSECURE)); then
        echo "unset RAFTBUS_CA_CERT RAFTBUS_TOKEN"
    else
        [[ -s "$TLS_DIR/ca.pem" && -s "$TLS_DIR/admin.token" ]] ||
            die "no CA or token in $TLS_DIR (run 'scripts/docker.sh up')"
        echo "export RAFTBUS_CA_CERT='$TLS_DIR/ca.pem'"
        echo "export RAFTBUS_TOKEN=\"\$(cat '$TLS_DIR/admin.token')\""
    fi
}

cmd_up() {
    local img deadline url pending name i scheme=https
    local -A urls=()
    local curl_tls=()
    for img in "$IMG_BROKER" "$IMG_MANAGER" "$IMG_PG"; do
        image_exists "$img" || die "image $img is missing; run 'scripts/docker.sh build' first"
    done
    prepare_tls
    if ((INSECURE)); then
        scheme=http
        say "INSECURE=1: plain HTTP, no certificates, no token (RAFTBUS_SECURITY__INSECURE=true)"
    else
        curl_tls=(--cacert "$TLS_DIR/ca.pem")
        say "TLS material in $TLS_DIR (admin token: $TLS_DIR/admin.token)"
    fi
    compose up -d
    for i in "${!MANAGER_IPS[@]}"; do urls["manager-$((i + 1))"]="$scheme://${MANAGER_IPS[$i]}:$MANAGER_PORT/health"; done
    for i in "${!BROKER_IPS[@]}"; do urls["broker-$((i + 1))"]="$scheme://${BROKER_IPS[$i]}:$BROKER_PORT/health"; done
    say "waiting up to ${UP_TIMEOUT}s for /health of the managers and brokers"
    deadline=$((SECONDS + UP_TIMEOUT))
    while :; do
        pending=()
        for name in $(printf '%s\n' "${!urls[@]}" | sort); do
            url="${urls[$name]}"
            curl -fsS -m 2 "${curl_tls[@]}" -o /dev/null "$url" 2>/dev/null || pending+=("$name")
        done
        ((${#pending[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            compose ps >&2 || true
            for name in "${pending[@]}"; do
                echo "---- last lines of $name" >&2
                docker logs --tail 15 "$name" >&2 2>&1 || true
            done
            die "not healthy after ${UP_TIMEOUT}s: ${pending[*]}"
        fi
        sleep 0.5
    done
    say "all managers and brokers healthy"
    # Brokers heartbeat to the managers' internal listeners (mutual TLS when secure): wait until
    # the managers list every broker alive, so a broken heartbeat path fails here, not later.
    local alive=0 want=${#BROKER_IPS[@]} auth=()
    ((INSECURE)) || auth=(-H "@$TLS_DIR/.auth-header")
    ((INSECURE)) || (umask 077; printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' <"$TLS_DIR/admin.token")" \
        >"$TLS_DIR/.auth-header")
    while :; do
        alive="$(curl -fsS -m 2 "${curl_tls[@]}" "${auth[@]}" \
            "$scheme://${MANAGER_IPS[0]}:$MANAGER_PORT/v1/brokers" 2>/dev/null |
            grep -o '"alive":true' | wc -l || true)"
        ((alive >= want)) && break
        if ((SECONDS >= deadline)); then
            for name in broker-1 manager-1; do
                echo "---- last lines of $name" >&2
                docker logs --tail 15 "$name" >&2 2>&1 || true
            done
            die "the managers list ${alive:-0} of $want brokers alive after ${UP_TIMEOUT}s (broker heartbeats)"
        fi
        sleep 0.5
    done
    say "the managers list all $want brokers alive"
    print_env
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        build) (($# <= 1)) || usage; cmd_build "$@" ;;
        up) (($# == 0)) || usage; cmd_up ;;
        env) (($# == 0)) || usage; print_env ;;
        down) (($# == 0)) || usage; compose down -v --remove-orphans ;;
        ps) (($# == 0)) || usage; compose ps ;;
        logs)
            (($# >= 1 && $# <= 2)) || usage
            if [[ "${2:-}" == -f ]]; then docker logs --tail 200 -f "$1"; elif (($# == 1)); then docker logs --tail 200 "$1"; else usage; fi
            ;;
        *) usage ;;
    esac
}

main "$@"
