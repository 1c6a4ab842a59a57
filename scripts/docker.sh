#!/usr/bin/env bash
# Raftbus in Docker, built with no image registry: 3 managers, 3 brokers and one Postgres
# container per node on a private bridge network with static IPs (docker/compose.yml).
#
#   scripts/docker.sh build [--force]  cargo build, then the images (skips up-to-date ones)
#   scripts/docker.sh up               start the cluster, wait for /health, print the bootstrap
#   scripts/docker.sh down             stop and remove containers, network and volumes
#   scripts/docker.sh ps               the containers
#   scripts/docker.sh logs NAME [-f]   a container's log, e.g. broker-1 or pg-manager-2
#
# Images: raftbus/broker:dev, raftbus/manager:dev, raftbus/tools:dev (producer, consumer):
# FROM scratch with the binary and the shared libraries `ldd` lists. raftbus/postgres:15: a
# Debian bookworm rootfs with postgresql-15 made by mmdebstrap from the host's apt sources,
# `docker import`ed (raftbus/postgres-rootfs:15), plus docker/postgres-entrypoint.sh.
# An image is rebuilt only when its inputs changed (label org.raftbus.input) or with --force;
# the rootfs tarball is cached in .docker-cache/.
#
# Environment: RAFTBUS_NO_BUILD=1 (skip cargo build), RAFTBUS_BIN_DIR (target/release),
# RAFTBUS_STRIP=1 (strip debug info from the binaries in the images), UP_TIMEOUT seconds (90),
# APT_SOURCES (/etc/apt/sources.list.d/debian.sources: the mirror mmdebstrap uses),
# RUST_LOG (passed to the containers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE="$ROOT/docker/compose.yml"
PROJECT=raftbus
BIN_DIR="${RAFTBUS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
CACHE_DIR="$ROOT/.docker-cache"
APT_SOURCES="${APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
UP_TIMEOUT="${UP_TIMEOUT:-90}"

# Must match docker/compose.yml.
SUBNET_PREFIX=172.29.50
MANAGER_IPS=("$SUBNET_PREFIX.11" "$SUBNET_PREFIX.12" "$SUBNET_PREFIX.13")
BROKER_IPS=("$SUBNET_PREFIX.21" "$SUBNET_PREFIX.22" "$SUBNET_PREFIX.23")
MANAGER_PORT=9081
BROKER_PORT=9091

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
usage() { sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

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

compose() { docker-compose -f "$COMPOSE_FILE" -p "$PROJECT" "$@"; }

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
        [[ -x "$BIN_DIR/$bin" ]] || die "$BIN_DIR/$bin not found; run 'cargo build --release --bins' (or unset RAFTBUS_NO_BUILD)"
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
        say "cargo build --release --bins (RAFTBUS_NO_BUILD=1 skips this)"
        (cd "$ROOT" && cargo build --release --bins)
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

cmd_up() {
    local img deadline url pending name i
    local -A urls=()
    for img in "$IMG_BROKER" "$IMG_MANAGER" "$IMG_PG"; do
        image_exists "$img" || die "image $img is missing; run 'scripts/docker.sh build' first"
    done
    compose up -d
    for i in "${!MANAGER_IPS[@]}"; do urls["manager-$((i + 1))"]="http://${MANAGER_IPS[$i]}:$MANAGER_PORT/health"; done
    for i in "${!BROKER_IPS[@]}"; do urls["broker-$((i + 1))"]="http://${BROKER_IPS[$i]}:$BROKER_PORT/health"; done
    say "waiting up to ${UP_TIMEOUT}s for /health of the managers and brokers"
    deadline=$((SECONDS + UP_TIMEOUT))
    while :; do
        pending=()
        for name in $(printf '%s\n' "${!urls[@]}" | sort); do
            url="${urls[$name]}"
            curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null || pending+=("$name")
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
    echo "export RAFTBUS_BOOTSTRAP=$(bootstrap)"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        build) (($# <= 1)) || usage; cmd_build "$@" ;;
        up) (($# == 0)) || usage; cmd_up ;;
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
