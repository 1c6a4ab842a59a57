#!/usr/bin/env bash
# A local Raftbus cluster for manual experiments: one Postgres (via scripts/pg.sh), one database
# per manager and per broker, MANAGERS managers, BROKERS brokers and a demo topic. All state
# lives in .cluster/.
#
#   scripts/cluster.sh up            build, start Postgres + all processes, create topic "demo"
#   scripts/cluster.sh down [--purge] stop what `up` started (and delete .cluster/ with --purge)
#   scripts/cluster.sh status        one line per process: running/stopped, /health for brokers
#   scripts/cluster.sh kill NAME     kill -9 one process, e.g. broker-2 or manager-1
#   scripts/cluster.sh start NAME    start it again with the same settings
#   scripts/cluster.sh logs NAME [-f] tail its log (follow with -f)
#
# Environment: CLUSTER_DIR (.cluster), PG_PORT (54329), MANAGERS (3), BROKERS (3),
# MANAGER_PORT_BASE (9081, Raft on +100), API_PORT_BASE (9091), RAFT_PORT_BASE (9191),
# KAFKA_PORT_BASE (19092: the brokers' Kafka listeners), RAFTBUS_BIN_DIR (target/release), RAFTBUS_NO_BUILD=1 (skip cargo
# build), HEALTH_TIMEOUT seconds (60), INSECURE=1 (plain HTTP, no certificates, no token: for
# throwaway experiments only), NODE_ENV ("RAFTBUS_X__Y=v ...": settings given to every process);
# an exported RUST_LOG is passed on to the processes.
#
# Secure by default: `up` makes a CA, a certificate per node and an admin token under
# $CLUSTER_DIR/pki (scripts/certs.sh), starts every node with TLS and token checks on, and
# prints the RAFTBUS_CA_CERT / RAFTBUS_TOKEN exports the CLIs need.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/.cluster}"
PG_PORT="${PG_PORT:-54329}"
BROKERS="${BROKERS:-3}"
MANAGERS="${MANAGERS:-3}"
MANAGER_PORT_BASE="${MANAGER_PORT_BASE:-9081}"
API_PORT_BASE="${API_PORT_BASE:-9091}"
RAFT_PORT_BASE="${RAFT_PORT_BASE:-9191}"
KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-19092}"
BIN_DIR="${RAFTBUS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
DEMO_TOPIC=demo
DEMO_PARTITIONS=3
PG_SH="$ROOT/scripts/pg.sh"
PG_DIR="$CLUSTER_DIR/pg"
LOG_DIR="$CLUSTER_DIR/logs"
RUN_DIR="$CLUSTER_DIR/run"
PKI_DIR="$CLUSTER_DIR/pki"
INSECURE="${INSECURE:-0}"
NODE_ENV="${NODE_ENV:-}"
if [[ "$INSECURE" == 1 ]]; then SCHEME=http; else SCHEME=https; fi

die() { echo "cluster.sh: error: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*"; }
usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

broker_api() { echo "127.0.0.1:$((API_PORT_BASE + $1 - 1))"; }
broker_raft() { echo "127.0.0.1:$((RAFT_PORT_BASE + $1 - 1))"; }
broker_kafka() { echo "127.0.0.1:$((KAFKA_PORT_BASE + $1 - 1))"; }
# Comma-separated Kafka listener addresses: what Kafka clients bootstrap from.
kafka_bootstrap() { addr_list broker_kafka "$BROKERS"; }
# `env` arguments of process NAME for its Kafka listener (brokers only).
kafka_env() {
    [[ "$1" == broker-* ]] || return 0
    echo "RAFTBUS_KAFKA__LISTEN_ADDR=$(broker_kafka "${1##*-}")"
    echo "RAFTBUS_KAFKA__MANAGERS=$(bootstrap)"
}
manager_api() { echo "127.0.0.1:$((MANAGER_PORT_BASE + $1 - 1))"; }
manager_raft() { echo "127.0.0.1:$((MANAGER_PORT_BASE + 100 + $1 - 1))"; }
# `addr_list FUNC N`: FUNC 1 .. FUNC N, comma-separated.
addr_list() {
    local i out=""
    for ((i = 1; i <= $2; i++)); do out+="${out:+,}$("$1" "$i")"; done
    echo "$out"
}
# Comma-separated manager API addresses: what clients bootstrap from.
bootstrap() { addr_list manager_api "$MANAGERS"; }
# Comma-separated manager internal (Raft) addresses: where brokers send heartbeats.
manager_internal() { addr_list manager_raft "$MANAGERS"; }

# ---- Security: certificates, token, and what each process and client is given ----------------
ensure_pki() {
    [[ "$INSECURE" == 1 ]] && return 0
    local i
    "$ROOT/scripts/certs.sh" "$PKI_DIR" ca
    "$ROOT/scripts/certs.sh" "$PKI_DIR" token admin
    for ((i = 1; i <= MANAGERS; i++)); do "$ROOT/scripts/certs.sh" "$PKI_DIR" node manager "$i"; done
    for ((i = 1; i <= BROKERS; i++)); do "$ROOT/scripts/certs.sh" "$PKI_DIR" node broker "$i"; done
}
# `env` arguments of process NAME (broker-3, manager-1): its [security] settings.
security_env() {
    if [[ "$INSECURE" == 1 ]]; then
        echo "RAFTBUS_SECURITY__INSECURE=true"
        return
    fi
    "$ROOT/scripts/certs.sh" "$PKI_DIR" node "${1%-*}" "${1##*-}"
    echo "RAFTBUS_SECURITY__CA_CERT=$PKI_DIR/ca.pem"
    echo "RAFTBUS_SECURITY__CERT=$PKI_DIR/$1.pem"
    echo "RAFTBUS_SECURITY__KEY=$PKI_DIR/$1.key"
    echo "RAFTBUS_SECURITY__ADMIN_TOKEN_SHA256=$(cat "$PKI_DIR/admin.token.sha256")"
}
# curl flags for /health (the CA when secure; /health needs no token).
curl_auth() {
    [[ "$INSECURE" == 1 ]] && return 0
    printf '%s\n' --cacert "$PKI_DIR/ca.pem"
}
# `env` arguments for the admin CLI (CA and token when secure; the token stays off the
# command line, where other users' `ps` would see it).
cli_auth() {
    [[ "$INSECURE" == 1 ]] && return 0
    printf '%s\n' "RAFTBUS_CA_CERT=$PKI_DIR/ca.pem" "RAFTBUS_TOKEN=$(cat "$PKI_DIR/admin.token")"
}

# ---- Process table --------------------------------------------------------------------------
# One `register NAME BINARY HEALTH_URL ARGS...` per process. Everything else (start, kill,
# status, logs, down) is driven by this table, so a manager is one more loop in define_procs.
PROCS=()
declare -A PROC_BIN PROC_HEALTH PROC_ARGS PROC_DB
register() {
    local name="$1"
    PROCS+=("$name")
    PROC_BIN[$name]="$2" PROC_HEALTH[$name]="$3"
    shift 3
    PROC_ARGS[$name]="$(printf '%q ' "$@")"
}

define_procs() {
    local i peers=""
    [[ "$BROKERS" =~ ^[1-9][0-9]*$ ]] || die "BROKERS must be a positive number, got '$BROKERS'"
    [[ "$MANAGERS" =~ ^[1-9][0-9]*$ ]] || die "MANAGERS must be a positive number, got '$MANAGERS'"
    for ((i = 1; i <= MANAGERS; i++)); do peers+="${peers:+,}$i/$(manager_api "$i")/$(manager_raft "$i")"; done
    for ((i = 1; i <= MANAGERS; i++)); do
        PROC_DB["manager-$i"]="manager_$i"
        register "manager-$i" manager "$SCHEME://$(manager_api "$i")/health" serve \
            --node-id "$i" --api-addr "$(manager_api "$i")" --raft-addr "$(manager_raft "$i")" \
            --database-url "postgres://postgres@127.0.0.1:$PG_PORT/manager_$i" --peers "$peers"
    done
    for ((i = 1; i <= BROKERS; i++)); do
        PROC_DB["broker-$i"]="broker_$i"
        register "broker-$i" broker "$SCHEME://$(broker_api "$i")/health" \
            --node-id "$i" --api-addr "$(broker_api "$i")" --raft-addr "$(broker_raft "$i")" \
            --database-url "postgres://postgres@127.0.0.1:$PG_PORT/broker_$i" --managers "$(manager_internal)"
    done
}

# Registered names plus any with a pid file (e.g. started with a larger BROKERS).
all_names() {
    local f
    printf '%s\n' "${PROCS[@]}"
    for f in "$RUN_DIR"/*.pid; do [[ -e "$f" ]] && basename "$f" .pid; done
    return 0
}

# Prints the pid of NAME if its pid file names a live process whose command line contains the
# recorded binary (argv[0], or a later word for interpreted scripts), so that a recycled pid
# is never signalled.
proc_pid() {
    local f="$RUN_DIR/$1.pid" pid="" bin="" arg
    local -a argv=()
    [[ -f "$f" ]] || return 1
    { read -r pid && read -r bin; } <"$f" || return 1
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    mapfile -d '' argv <"/proc/$pid/cmdline" 2>/dev/null || return 1 # empty for zombies
    for arg in "${argv[@]}"; do
        if [[ "$arg" == "$bin" ]]; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

start_proc() {
    local name="$1" pid bin log var
    [[ -n "${PROC_BIN[$name]:-}" ]] || die "unknown process '$name' (known: ${PROCS[*]})"
    if pid="$(proc_pid "$name")"; then
        say "$name already running (pid $pid)"
        return
    fi
    bin="$BIN_DIR/${PROC_BIN[$name]}"
    [[ -x "$bin" ]] || die "$name: binary not found at $bin; run 'cargo build --release --bins' \
(or unset RAFTBUS_NO_BUILD / set RAFTBUS_BIN_DIR). Postgres may be running: 'scripts/cluster.sh down' stops it."
    local -a args unset_env=() sec_env=() kafka_env=() extra_env=()
    eval "args=(${PROC_ARGS[$name]})"
    # Our own RAFTBUS_* settings must not leak into the process's env-based configuration.
    for var in $(compgen -e); do [[ "$var" == RAFTBUS_* ]] && unset_env+=(-u "$var"); done
    mapfile -t sec_env < <(security_env "$name")
    mapfile -t kafka_env < <(kafka_env "$name")
    log="$LOG_DIR/$name.log"
    echo "==== [cluster.sh] $(date -u +%FT%TZ) starting $name: $bin ${args[*]}" >>"$log"
    read -r -a extra_env <<<"$NODE_ENV"
    nohup env "${unset_env[@]}" NO_COLOR=1 "${sec_env[@]}" "${kafka_env[@]}" "${extra_env[@]}" "$bin" "${args[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    printf '%s\n%s\n' "$pid" "$bin" >"$RUN_DIR/$name.pid"
    # Until nohup/env have exec'd the binary, /proc/PID/cmdline does not name it yet.
    local deadline=$((SECONDS + 5))
    until proc_pid "$name" >/dev/null; do
        if [[ ! -d "/proc/$pid" ]] || ((SECONDS >= deadline)); then
            tail -n 20 "$log" >&2 || true
            die "$name (pid $pid) did not start; see $log"
        fi
        sleep 0.05
    done
    say "started $name (pid $pid, log $log)"
}

# Polls until `pid` is gone; TERM first unless SIGNAL=KILL, escalating after 10 s.
stop_proc() {
    local name="$1" signal="${2:-TERM}" pid deadline
    if ! pid="$(proc_pid "$name")"; then
        [[ -f "$RUN_DIR/$name.pid" || "$signal" == KILL ]] && say "$name is not running"
        rm -f "$RUN_DIR/$name.pid"
        return 0
    fi
    kill "-$signal" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while proc_pid "$name" >/dev/null; do
        if ((SECONDS >= deadline)); then
            [[ "$signal" != KILL ]] || die "$name (pid $pid) did not die after kill -9"
            say "$name did not exit after SIG$signal within 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            signal=KILL
            deadline=$((SECONDS + 10))
        fi
        sleep 0.1
    done
    rm -f "$RUN_DIR/$name.pid"
    say "stopped $name (pid $pid, SIG$signal)"
}

# Body if 2xx, else empty.
health() {
    local -a auth
    mapfile -t auth < <(curl_auth)
    curl -fsS -m 2 "${auth[@]}" "${PROC_HEALTH[$1]}" 2>/dev/null || true
}

wait_healthy() {
    local deadline=$((SECONDS + HEALTH_TIMEOUT)) name pending
    while :; do
        pending=()
        for name in "${PROCS[@]}"; do
            [[ -z "${PROC_HEALTH[$name]}" ]] && continue
            if ! proc_pid "$name" >/dev/null; then
                tail -n 30 "$LOG_DIR/$name.log" >&2 || true
                die "$name exited during startup (log above: $LOG_DIR/$name.log)"
            fi
            [[ -n "$(health "$name")" ]] || pending+=("$name")
        done
        if ((${#pending[@]} == 0)); then
            say "all processes healthy"
            return
        fi
        ((SECONDS < deadline)) || die "not healthy after ${HEALTH_TIMEOUT}s: ${pending[*]} (see $LOG_DIR)"
        sleep 0.2
    done
}

# Creates the demo topic through the managers (they place replicas; brokers pick them up on
# their next heartbeat). An existing topic is fine: `up` may be run again.
create_topic() {
    local topic="$1" partitions="$2" out deadline=$((SECONDS + 30)) auth
    mapfile -t auth < <(cli_auth)
    while :; do # bounded retry while the managers elect a write manager / brokers register
        if out="$(env "${auth[@]}" "$BIN_DIR/manager" --bootstrap "$(bootstrap)" topic create "$topic" \
            --partitions "$partitions" --replication-factor "$((BROKERS < 3 ? BROKERS : 3))" --wait-ms 30000 2>&1)"; then
            say "$out"
            return
        elif [[ "$out" == *already\ exists* ]]; then
            say "topic $topic exists"
            return
        elif [[ "$out" != *not_leader* && "$out" != *insufficient_brokers* && "$out" != *brokers\ registered* ]] || ((SECONDS >= deadline)); then
            die "creating topic $topic failed: $out"
        fi
        sleep 0.5
    done
}

# ---- print_usage: how to talk to the cluster --------------------------------------------------
print_usage() {
    local api="$SCHEME://127.0.0.1:$API_PORT_BASE" curl_flags="" exports=""
    if [[ "$INSECURE" != 1 ]]; then
        curl_flags=" --cacert $PKI_DIR/ca.pem -H \"Authorization: Bearer \$RAFTBUS_TOKEN\""
        exports="export RAFTBUS_CA_CERT=$PKI_DIR/ca.pem
export RAFTBUS_TOKEN=$(cat "$PKI_DIR/admin.token")   # the admin principal: keep it secret
"
    fi
    cat <<EOF

Raftbus cluster is up: $MANAGERS managers, $BROKERS brokers, topic "$DEMO_TOPIC" with $DEMO_PARTITIONS partitions.
$([[ "$INSECURE" == 1 ]] && echo "WARNING: INSECURE=1: plain HTTP, no authentication.")

export RAFTBUS_BOOTSTRAP=$(bootstrap)
${exports}export PATH="$BIN_DIR:\$PATH"

Produce:      echo hello | producer --topic $DEMO_TOPIC
Consume:      consumer --topic $DEMO_TOPIC --from-beginning
Administer:   manager status | manager topic describe $DEMO_TOPIC | manager topic create NAME
Status page:  $SCHEME://$(manager_api 1)/
Produce over HTTP (through a manager, routed to the partition leader):
  curl -s$curl_flags -XPOST $SCHEME://$(manager_api 1)/v1/topics/$DEMO_TOPIC/records -H 'content-type: application/json' \\
       -d '{"records":[{"key":"k","value":"hello"}]}'
Fetch partition 0 from its leader (a non-leader answers 421 naming the leader):
  curl -s$curl_flags '$api/v1/partitions/$DEMO_TOPIC/0/records?offset=0'
Kafka clients (the brokers' Kafka listeners$([[ "$INSECURE" != 1 ]] && echo ": TLS, SASL/PLAIN with user admin and the token")):
  kcat -b $(kafka_bootstrap)$([[ "$INSECURE" != 1 ]] && echo " -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN \\
       -X sasl.username=admin -X sasl.password=\$RAFTBUS_TOKEN -X ssl.ca.location=$PKI_DIR/ca.pem") -L

Status: scripts/cluster.sh status | Crash: scripts/cluster.sh kill broker-1 (or manager-1) | Restart: scripts/cluster.sh start broker-1
Logs: scripts/cluster.sh logs broker-1 [-f] | Stop: scripts/cluster.sh down [--purge]
EOF
}

cmd_up() {
    local name
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    if [[ "${RAFTBUS_NO_BUILD:-0}" != 1 ]]; then
        say "building release binaries (set RAFTBUS_NO_BUILD=1 to skip)"
        (cd "$ROOT" && cargo build --release --bins)
    fi
    ensure_pki
    "$PG_SH" start "$PG_DIR" "$PG_PORT"
    for name in "${PROCS[@]}"; do
        if [[ -n "${PROC_DB[$name]:-}" ]]; then
            "$PG_SH" createdb "$PG_DIR" "$PG_PORT" "${PROC_DB[$name]}" >/dev/null
        fi
    done
    for name in "${PROCS[@]}"; do start_proc "$name"; done
    wait_healthy
    create_topic "$DEMO_TOPIC" "$DEMO_PARTITIONS"
    print_usage
}

cmd_down() {
    local name purge="${1:-}"
    [[ -z "$purge" || "$purge" == --purge ]] || usage
    # In parallel, so slow graceful shutdowns do not add up.
    while read -r name; do stop_proc "$name" & done < <(all_names | sort -u)
    wait
    "$PG_SH" stop "$PG_DIR"
    if [[ "$purge" == --purge ]]; then
        case "$CLUSTER_DIR" in "" | / | "$ROOT" | "$HOME") die "refusing to delete '$CLUSTER_DIR'" ;; esac
        rm -rf "$CLUSTER_DIR"
        say "deleted $CLUSTER_DIR"
    fi
}

cmd_status() {
    local name pid h
    echo "postgres  $("$PG_SH" status "$PG_DIR" || true)"
    while read -r name; do
        if pid="$(proc_pid "$name")"; then
            h="$([[ -n "${PROC_HEALTH[$name]:-}" ]] && health "$name")"
            echo "$name  running (pid $pid)${PROC_HEALTH[$name]:+  health: ${h:-not answering}}"
        else
            echo "$name  stopped"
        fi
    done < <(all_names | sort -u)
}

cmd_logs() {
    local log="$LOG_DIR/$1.log"
    [[ -f "$log" ]] || die "no log for '$1' at $log"
    if [[ "${2:-}" == -f ]]; then tail -n 100 -F "$log"; else tail -n 100 "$log"; fi
}

main() {
    local cmd="${1:-}"
    shift || true
    define_procs
    case "$cmd" in
        up) [[ $# -eq 0 ]] || usage; cmd_up ;;
        down) cmd_down "$@" ;;
        status) cmd_status ;;
        kill) [[ $# -eq 1 ]] || usage; stop_proc "$1" KILL ;;
        start) [[ $# -eq 1 ]] || usage; mkdir -p "$LOG_DIR" "$RUN_DIR"; start_proc "$1" ;;
        logs) [[ $# -ge 1 ]] || usage; cmd_logs "$@" ;;
        *) usage ;;
    esac
}

main "$@"
