#!/usr/bin/env bash
# The performance benchmark of Raftbus (issue 6), optionally side by side with NATS JetStream
# and a RabbitMQ quorum queue on the same machine.
#
#   scripts/bench.sh            fresh local cluster (release build), then produce, latency,
#                               one-at-a-time, consume, failover and idle-CPU runs; prints a table
#   scripts/bench.sh --compare  also starts a 3-node NATS JetStream cluster and a 3-node RabbitMQ
#                               cluster (Debian packages, installed with apt-get when missing) and
#                               runs the same workload against them (bench/compare crate)
#
# Workload: 100-byte records, replication factor 3, 3 brokers/servers on loopback, publisher
# acks awaited (Raftbus acks=all: durable in Postgres on a majority). Everything lives in
# BENCH_DIR (target/bench); every process started here is stopped on exit, Ctrl-C included.
# Environment: BENCH_DIR, BENCH_SECS (seconds per throughput run, 10), BENCH_FAILOVER_ROUNDS
# (3), BENCH_IDLE_SECS (30), RAFTBUS_NO_BUILD=1 (use the existing target/release binaries).
#
# Scaling rows (issue 11): on the same cluster, after the consume step, 256 in flight (as the
# 256-in-flight row) to a fresh topic per partition count, BENCH_SECS each; per row rec/s,
# MB/s, p50/p99, the topic's creation time, Postgres WAL bytes per record byte per replica,
# and per broker (from /metrics before and after; `n/a` for counters the binaries lack):
# Postgres transactions/s, entries and groups per transaction, inter-broker messages/s, Raft
# RPCs per message, append RPCs received/s, produce requests/s (scripts/metrics-delta.py).
#   BENCH_SCALING=0                    skip them
#   BENCH_SCALING_PARTITIONS="6 96 768" partition counts, one row each (the default)
#   BENCH_CREATE_TIMEOUT=300           seconds a topic may take until every partition is led
#   BENCH_ONLY=scaling                 only the scaling rows (no other row, no --compare)
#   e.g. BENCH_ONLY=scaling BENCH_SECS=5 BENCH_SCALING_PARTITIONS="6 96" scripts/bench.sh
#
# Security: scripts/cluster.sh starts a secure cluster (TLS on every listener, an admin token);
# the clients get its CA and token as RAFTBUS_CA_CERT/RAFTBUS_TOKEN (from the export lines of
# `cluster.sh up`), and this script's own requests (curl /v1/partitions, /metrics) use https
# with them. INSECURE=1 runs the cluster of the main rows with RAFTBUS_SECURITY__INSECURE=true.
# TLS rows (issue 12), after the others: the 256-in-flight produce row and the one-at-a-time
# row (6 partitions, BENCH_SECS each) on a fresh cluster with security on, then on one with
# security off (INSECURE=1 to cluster.sh), side by side with the difference.
#   BENCH_TLS=0                        skip them
#   BENCH_TLS_ROUNDS=1                 on/off pairs (alternating); each cell is the median round
#   BENCH_ONLY=tls                     only them (no other row, no --compare)
# Kafka rows (issue 14), after the sdk's produce rows: librdkafka producing to the brokers'
# Kafka listeners, 256 in flight and unbounded (scripts/bench-kafka.sh).
#   BENCH_KAFKA=0                      skip them
#   BENCH_ONLY=kafka                   only them and the sdk rows they sit next to
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench}"
BIN_DIR="$ROOT/target/release"
SECS="${BENCH_SECS:-10}"
ROUNDS="${BENCH_FAILOVER_ROUNDS:-3}"
IDLE_SECS="${BENCH_IDLE_SECS:-30}"
SIZE=100
COMPARE=0
SCALING="${BENCH_SCALING:-1}"
SCALING_PARTITIONS="${BENCH_SCALING_PARTITIONS:-6 96 768}"
CREATE_TIMEOUT="${BENCH_CREATE_TIMEOUT:-300}"
ONLY="${BENCH_ONLY:-}"
TLS_ROWS="${BENCH_TLS:-1}"
TLS_ROUNDS="${BENCH_TLS_ROUNDS:-1}"
KAFKA_ROWS="${BENCH_KAFKA:-1}"
NO_BUILD="${RAFTBUS_NO_BUILD:-0}" # read before the export below, which is for cluster.sh
# Security of the cluster of the main rows (INSECURE=1: off); every cluster.sh call gets INSECURE
# from CLUSTER_INSECURE (cluster_sh), never from the caller's shell.
case "${INSECURE:-0}" in
    1 | true) MAIN_INSECURE=1 ;;
    0 | false | "") MAIN_INSECURE=0 ;;
    *) echo "bench.sh: error: INSECURE must be 1 or 0, got '$INSECURE'" >&2; exit 1 ;;
esac
unset INSECURE
CLUSTER_INSECURE=$MAIN_INSECURE
# The clients' CA and token come from the cluster this script starts, never from the caller.
unset RAFTBUS_CA_CERT RAFTBUS_TOKEN

# Ports of our own cluster, away from scripts/cluster.sh's defaults so both can run at once.
export CLUSTER_DIR="$BENCH_DIR/raftbus" PG_PORT=55439 MANAGERS=3 BROKERS=3
export MANAGER_PORT_BASE=19081 API_PORT_BASE=19091 RAFT_PORT_BASE=19191 KAFKA_PORT_BASE=19392
export RAFTBUS_BIN_DIR="$BIN_DIR" RAFTBUS_NO_BUILD=1
BOOTSTRAP="127.0.0.1:19081,127.0.0.1:19082,127.0.0.1:19083"
CLUSTER_SH="$ROOT/scripts/cluster.sh"

die() { echo "bench.sh: error: $*" >&2; exit 1; }
say() { echo "bench.sh: $*" >&2; }

for arg in "$@"; do
    case "$arg" in
        --compare) COMPARE=1 ;;
        -h | --help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (see --help)" ;;
    esac
done
[[ -z "$ONLY" || "$ONLY" == scaling || "$ONLY" == tls || "$ONLY" == kafka ]] ||
    die "BENCH_ONLY must be empty, 'scaling', 'tls' or 'kafka', got '$ONLY'"
[[ "$KAFKA_ROWS" == 0 || "$KAFKA_ROWS" == 1 ]] || die "BENCH_KAFKA must be 0 or 1, got '$KAFKA_ROWS'"
if [[ "$ONLY" == kafka ]]; then
    ((KAFKA_ROWS)) || die "BENCH_ONLY=kafka with BENCH_KAFKA=0 runs nothing"
    ((COMPARE == 0)) || die "--compare has no Kafka rows; leave out BENCH_ONLY=kafka or --compare"
    SCALING=0 TLS_ROWS=0
fi
[[ "$SCALING" == 0 || "$SCALING" == 1 ]] || die "BENCH_SCALING must be 0 or 1, got '$SCALING'"
[[ "$TLS_ROWS" == 0 || "$TLS_ROWS" == 1 ]] || die "BENCH_TLS must be 0 or 1, got '$TLS_ROWS'"
[[ "$TLS_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TLS_ROUNDS must be a positive number, got '$TLS_ROUNDS'"
[[ "$CREATE_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CREATE_TIMEOUT must be a number of seconds"
for p in $SCALING_PARTITIONS; do
    [[ "$p" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALING_PARTITIONS: '$p' is not a partition count"
done
if [[ "$ONLY" == scaling ]]; then
    ((SCALING)) || die "BENCH_ONLY=scaling with BENCH_SCALING=0 runs nothing"
    ((COMPARE == 0)) || die "--compare has no scaling rows; leave out BENCH_ONLY=scaling or --compare"
fi
if [[ "$ONLY" == tls ]]; then
    ((TLS_ROWS)) || die "BENCH_ONLY=tls with BENCH_TLS=0 runs nothing"
    ((COMPARE == 0)) || die "--compare has no TLS rows; leave out BENCH_ONLY=tls or --compare"
    SCALING=0
fi

# ---- cleanup: everything we started, also on Ctrl-C and failure ------------------------------
BG_PIDS=()       # background clients (failover producers)
STOPPED_PIDS=()  # processes we froze with SIGSTOP: thawed before anything else
CLUSTER_UP=0
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${STOPPED_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if ((CLUSTER_UP)); then cluster_sh down >>"$BENCH_DIR/cluster.log" 2>&1 || true; fi
    rm -f "$AUTH_HEADER"
    if declare -F compare_cleanup >/dev/null; then compare_cleanup; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the cluster: cluster.sh, its security, our requests to the brokers ----------------------
AUTH_HEADER="$BENCH_DIR/.auth-header" # "Authorization: Bearer TOKEN" for curl -H @FILE
API_SCHEME=http
CURL_SEC=() # --cacert CA and -H @AUTH_HEADER on a secure cluster

# scripts/cluster.sh with INSECURE=1 exactly when CLUSTER_INSECURE is 1.
cluster_sh() {
    if ((CLUSTER_INSECURE)); then INSECURE=1 "$CLUSTER_SH" "$@"; else "$CLUSTER_SH" "$@"; fi
}

# `export_value LINE`: the value of an `export NAME=VALUE [# comment]` line: a quoted value
# without its quotes, an unquoted one up to the first blank; `$(cat FILE)` or `$(< FILE)`
# (quoted or not) is read from FILE. Never eval'ed.
export_value() {
    local v="${1#*=}" f
    if [[ "$v" =~ ^\"?\$\((cat|\<)\ +([^\)]+)\) ]]; then
        f="${BASH_REMATCH[2]}"
        f="${f%"${f##*[![:space:]]}"}" f="${f#[\'\"]}" f="${f%[\'\"]}"
        tr -d '[:space:]' <"$f"
    elif [[ "$v" =~ ^\'([^\']*)\' || "$v" =~ ^\"([^\"]*)\" || "$v" =~ ^([^[:space:]]*) ]]; then
        echo "${BASH_REMATCH[1]}"
    fi
}

# After `cluster.sh up`: the CA and admin token of the cluster from the export lines it printed
# (RAFTBUS_CA_CERT, RAFTBUS_TOKEN; exported for the CLIs), and curl's TLS options for ours.
# Without a printed CA on a secure cluster, a ca.pem / admin.token found in the fresh
# CLUSTER_DIR. No CA at all: plain HTTP (an insecure cluster).
cluster_credentials() {
    local log="$BENCH_DIR/cluster.log" line ca="" token=""
    unset RAFTBUS_CA_CERT RAFTBUS_TOKEN
    CURL_SEC=()
    API_SCHEME=http
    rm -f "$AUTH_HEADER"
    line="$(grep -E '^[[:space:]]*export RAFTBUS_CA_CERT=' "$log" | tail -n 1 || true)"
    if [[ -n "$line" ]]; then
        ca="$(export_value "${line#"${line%%export*}"}")" || die "cannot use the line '$line' of cluster.sh"
    fi
    line="$(grep -E '^[[:space:]]*export RAFTBUS_TOKEN=' "$log" | tail -n 1 || true)"
    if [[ -n "$line" ]]; then
        token="$(export_value "${line#"${line%%export*}"}")" || die "cannot read the token cluster.sh names"
    fi
    if [[ -z "$ca" ]] && ((!CLUSTER_INSECURE)); then
        ca="$(find "$CLUSTER_DIR" -maxdepth 3 -name ca.pem -print -quit 2>/dev/null || true)"
        if [[ -n "$ca" && -z "$token" ]]; then
            line="$(find "$CLUSTER_DIR" -maxdepth 3 -name admin.token -print -quit 2>/dev/null || true)"
            if [[ -n "$line" ]]; then token="$(tr -d '[:space:]' <"$line")"; fi
        fi
        if [[ -n "$ca" ]]; then say "cluster.sh printed no RAFTBUS_CA_CERT; using $ca"; fi
    fi
    if [[ -z "$ca" ]]; then
        ((CLUSTER_INSECURE)) || say "WARNING: no CA for the cluster (cluster.sh printed none): plain HTTP"
        say "cluster security: off (plain HTTP, no token)"
        return 0
    fi
    [[ -s "$ca" ]] || die "the cluster's CA $ca is missing or empty"
    export RAFTBUS_CA_CERT="$ca"
    API_SCHEME=https
    CURL_SEC=(--cacert "$ca")
    if [[ -n "$token" ]]; then
        export RAFTBUS_TOKEN="$token"
        (umask 077; printf 'Authorization: Bearer %s\n' "$token" >"$AUTH_HEADER")
        CURL_SEC+=(-H "@$AUTH_HEADER")
        say "cluster security: on (TLS, CA $ca, admin token)"
    else
        say "WARNING: the cluster has a CA but no admin token was found: requests carry no token"
        say "cluster security: on (TLS, CA $ca, no token)"
    fi
}

# `api_get BROKER PATH [CURL-ARG...]`: GET on broker BROKER's client API (https with the CA and
# the token when the cluster is secure); the body on stdout, non-zero on failure.
api_get() {
    local i="$1" path="$2"
    shift 2
    curl -fsS "${CURL_SEC[@]}" "$@" "$API_SCHEME://127.0.0.1:$((API_PORT_BASE + i - 1))$path"
}

# ---- helpers ---------------------------------------------------------------------------------
# `field LINE KEY`: the value of KEY=... in a RESULT line.
field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"; }
# The RESULT line of a log file (empty when the client printed none).
result_of() { grep '^RESULT ' "$1" 2>/dev/null | tail -n 1 || true; }
# Records of a RESULT line (0 without one).
count_of() { local n; n="$(field "$1" records)"; echo "${n:-0}"; }
# Median of the numbers given as arguments (the lower middle one for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
fmt_int() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 12345.6 -> 12,346

manager() { "$BIN_DIR/manager" --bootstrap "$BOOTSTRAP" "$@"; }

# `run_client LOG CMD...`: runs a benchmark client in the foreground, output to LOG, killed
# after CLIENT_TIMEOUT seconds. A failed or hung client does not end the benchmark: it is
# reported, and its RESULT (if it printed one) still counts; without one its cells stay empty.
CLIENT_TIMEOUT=$((SECS * 3 + 60))
run_client() {
    local log="$1"
    shift
    say "  $(basename "$log" .log): $*"
    # A watchdog instead of timeout(1): the command may be a shell function (the comparison
    # clients), which timeout cannot run. Those functions exec their binary, so $! is it.
    local pid watchdog rc=0
    "$@" >"$log" 2>&1 &
    pid=$!
    (sleep "$CLIENT_TIMEOUT"; kill -TERM "$pid" 2>/dev/null; sleep 5; kill -KILL "$pid" 2>/dev/null) &
    watchdog=$!
    wait "$pid" || rc=$?
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
    ((rc == 0)) ||
        say "  WARNING: $(basename "$log" .log) failed (exit $rc): $(tail -n 2 "$log" | tr '\n' ' ')"
}

# ---- Raftbus ---------------------------------------------------------------------------------
build() {
    if [[ "$NO_BUILD" == 1 || "${RAFTBUS_NO_BUILD_BENCH:-0}" == 1 ]]; then return; fi
    say "building release binaries (cargo build --release)"
    (cd "$ROOT" && cargo build --release -p raftbus-broker -p raftbus-manager \
        -p raftbus-producer -p raftbus-consumer) >"$BENCH_DIR/build.log" 2>&1 ||
        die "release build failed: $(tail -n 5 "$BENCH_DIR/build.log")"
}

cluster_up() {
    say "starting a fresh cluster in $CLUSTER_DIR (Postgres :$PG_PORT, managers :19081-19083$( ((CLUSTER_INSECURE)) && echo ', INSECURE=1'))"
    rm -rf "$CLUSTER_DIR"
    CLUSTER_UP=1
    unset RAFTBUS_CA_CERT RAFTBUS_TOKEN # the previous cluster's must not reach cluster.sh
    cluster_sh up >"$BENCH_DIR/cluster.log" 2>&1 || die "cluster start failed: $(tail -n 5 "$BENCH_DIR/cluster.log")"
    cluster_credentials
}

cluster_down() {
    cluster_sh down >>"$BENCH_DIR/cluster.log" 2>&1
    CLUSTER_UP=0
}

create_topic() { # NAME PARTITIONS
    manager topic create "$1" --partitions "$2" --replication-factor 3 --wait-ms 30000 >/dev/null
}

# Leaders of TOPIC's partitions as seen by the brokers themselves (one line per leader).
leaders_of() {
    local i
    for ((i = 1; i <= BROKERS; i++)); do
        api_get "$i" /v1/partitions -m 2 2>/dev/null |
            jq -r --arg t "$1" '.[] | select(.topic == $t and .role == "leader") | "\(.partition) \(.node_id)"' 2>/dev/null || true
    done
}

# Partitions of TOPIC that have a leader, as the brokers see it.
led_count() { leaders_of "$1" | awk '{ print $1 }' | sort -u | wc -l; }

# Waits (bounded by SECS, 60) until every one of N partitions of TOPIC has a leader; returns 1
# (with a warning) when they do not in time.
await_leaders() { # TOPIC N [SECS]
    local secs="${3:-60}" deadline n
    deadline=$((SECONDS + secs))
    while :; do
        n="$(led_count "$1")"
        ((n >= $2)) && return 0
        if ((SECONDS >= deadline)); then
            say "topic $1: only $n of $2 partitions have a leader after $secs s"
            return 1
        fi
        sleep 0.5
    done
}
wait_leaders() { await_leaders "$@" || die "topic $1: not every partition has a leader"; } # TOPIC N [SECS]

# Waits (bounded by SECS, 60) until TOPIC's leaders stay the same over 2 s: elections and
# preferred-leader moves are over. Returns 1 (with a warning) when they do not in time.
await_settled() { # TOPIC [SECS]
    local secs="${2:-60}" deadline a b
    deadline=$((SECONDS + secs))
    a="$(leaders_of "$1" | sort)"
    while :; do
        sleep 2 # the observation window of the stability check
        b="$(leaders_of "$1" | sort)"
        [[ "$a" == "$b" ]] && return 0
        if ((SECONDS >= deadline)); then
            say "topic $1: leaders still moving after $secs s"
            return 1
        fi
        a="$b"
    done
}
wait_settled() { await_settled "$@" || die "topic $1: leaders did not settle"; } # TOPIC [SECS]

# Broker id leading partition 0 of TOPIC.
leader_broker() {
    local id
    id="$(leaders_of "$1" | awk '$1 == 0 { print $2 }' | head -n 1)"
    [[ -n "$id" ]] || die "no leader for $1/0"
    echo "$id"
}

broker_pid() { sed -n 1p "$CLUSTER_DIR/run/broker-$1.pid"; }

# CPU ticks (utime+stime) of the brokers, managers, Postgres and its backends right now, plus
# what Postgres's exited backends used (the postmaster's cutime+cstime).
cpu_ticks() {
    local pids=() f pg
    for f in "$CLUSTER_DIR"/run/*.pid; do pids+=("$(sed -n 1p "$f")"); done
    pg="$(sed -n 1p "$CLUSTER_DIR/pg/data/postmaster.pid")"
    pids+=("$pg")
    mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$pg" || true)
    for f in "${pids[@]}"; do
        # Fields after the ")" of the command name: 14/15 utime/stime, 16/17 cutime/cstime.
        sed 's/^.*) //' "/proc/$f/stat" 2>/dev/null |
            awk -v pg="$([[ "$f" == "$pg" ]] && echo 1 || echo 0)" \
                '{ t = $12 + $13; if (pg) t += $14 + $15; print t }' || true
    done | awk '{ s += $1 } END { print s + 0 }'
}

# Percent of one core that the cluster used over IDLE_SECS with no traffic.
idle_cpu() {
    local t0 t1 hz
    hz="$(getconf CLK_TCK)"
    t0="$(cpu_ticks)"
    sleep "$IDLE_SECS" # the measurement interval itself, not a wait for a condition
    t1="$(cpu_ticks)"
    awk -v d="$((t1 - t0))" -v hz="$hz" -v s="$IDLE_SECS" 'BEGIN { printf "%.1f", 100 * d / hz / s }'
}

# Kills PID with SIGKILL and waits (bounded) until it is gone (or a zombie).
kill9_wait() {
    local deadline=$((SECONDS + 10))
    kill -KILL "$1" 2>/dev/null || true
    while [[ -e "/proc/$1" ]] && [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]; do
        ((SECONDS < deadline)) || die "pid $1 survived kill -9 for 10 s"
        sleep 0.05
    done
}

# One failover measurement, the same for every system:
# `fault_round SYSTEM SIGNAL LOG`: asks `SYSTEM_leader` for the node leading the failover
# stream/queue/partition and `SYSTEM_pid NODE` for its process, runs `SYSTEM_publisher SECS`
# (a one-at-a-time publisher printing a RESULT line) in the background, and 2 s in sends SIGNAL
# to the leader: KILL (then `SYSTEM_restart NODE` once the publisher is done) or STOP (SIGCONT
# after FREEZE_SECS). Then waits (bounded) until `SYSTEM_ready NODE` succeeds and appends the
# publisher's max_gap_ms to GAPS. Not meant for $(...): a subshell would lose GAPS, the pids it
# records and any `die`.
FREEZE_SECS=10
fault_round() {
    local sys="$1" sig="$2" log="$3" leader pid ppid secs=8 deadline
    [[ "$sig" == STOP ]] && secs=$((FREEZE_SECS + 4))
    leader="$("${sys}_leader")" || die "$sys: no leader found"
    pid="$("${sys}_pid" "$leader")"
    "${sys}_publisher" "$secs" >"$log" 2>&1 &
    ppid=$!
    BG_PIDS+=("$ppid")
    sleep 2 # let the publisher reach a steady one-at-a-time loop before the fault
    if [[ "$sig" == KILL ]]; then
        kill9_wait "$pid"
    else
        kill -STOP "$pid"
        STOPPED_PIDS+=("$pid")
        sleep "$FREEZE_SECS" # how long the leader stays frozen
        kill -CONT "$pid"
        STOPPED_PIDS=()
    fi
    # A publisher that gave up on a message still printed its RESULT (failed=N): counted below.
    wait "$ppid" || say "    $sys failover publisher: $(grep -m1 '^error' "$log" || tail -n 1 "$log")"
    BG_PIDS=()
    if [[ "$sig" == KILL ]]; then "${sys}_restart" "$leader"; fi
    deadline=$((SECONDS + 90))
    until "${sys}_ready" "$leader"; do
        ((SECONDS < deadline)) || die "$sys: node $leader not back within 90 s"
        sleep 0.5
    done
    local r
    r="$(result_of "$log")"
    say "    $sys node $leader SIG$sig: ${r:-no RESULT (see $log)}"
    [[ -n "$r" ]] && GAPS+=("$(field "$r" max_gap_ms)")
    FAILED=$((FAILED + $(r="$(field "$r" failed)"; echo "${r:-0}")))
}

# `failover_series SYSTEM PREFIX LOGDIR`: ROUNDS kill rounds, then ROUNDS freeze rounds; sets
# PREFIX_KILL/PREFIX_STOP (medians) and PREFIX_KILL_ALL/PREFIX_STOP_ALL (every round, and how
# many messages the publisher gave up on).
failover_series() {
    local sys="$1" prefix="$2" d="$3" sig i
    for sig in KILL STOP; do
        GAPS=() FAILED=0
        for ((i = 1; i <= ROUNDS; i++)); do fault_round "$sys" "$sig" "$d/failover-${sig,,}-$i.log"; done
        printf -v "${prefix}_$sig" '%s' "$(median "${GAPS[@]}")"
        printf -v "${prefix}_${sig}_ALL" '%s ms%s' "${GAPS[*]}" "$( ((FAILED)) && echo "; $FAILED sends failed")"
    done
}

# The Raftbus side of fault_round: partition 0 of topic "failover", brokers by id.
raftbus_leader() { leader_broker failover; }
raftbus_pid() { broker_pid "$1"; }
raftbus_publisher() {
    "$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" --topic failover --record-size "$SIZE" \
        --num-records 100000000 --window 1 --linger-ms 0 --duration-secs "$1"
}
raftbus_restart() { cluster_sh start "broker-$1" >>"$BENCH_DIR/cluster.log" 2>&1; }
raftbus_ready() {
    api_get "$1" /health -m 2 >/dev/null 2>&1 &&
        [[ -n "$(leaders_of failover)" ]]
}

# Runs the Raftbus workload; fills the R_* results.
bench_raftbus() {
    local d="$BENCH_DIR/logs/raftbus"
    mkdir -p "$d"
    CLUSTER_INSECURE=$MAIN_INSECURE
    cluster_up
    R_SECURITY="$( [[ -n "${RAFTBUS_CA_CERT:-}" ]] && echo "security on (TLS, token)" || echo "security off (INSECURE)")"
    manager topic delete demo >/dev/null # cluster.sh's demo topic: only ours count
    if [[ "$ONLY" == scaling ]]; then
        bench_scaling
    elif [[ "$ONLY" == kafka ]]; then
        bench_kafka_only "$d"
    else
        bench_raftbus_rows "$d"
    fi
    cluster_down
}

# Every row but the scaling ones (which run between consume and failover); fills R_*.
bench_raftbus_rows() {
    local d="$1" r w256 wmax best half
    say "raftbus: idle CPU with 100 partitions over ${IDLE_SECS} s"
    create_topic idle 100
    wait_leaders idle 100
    wait_settled idle
    R_IDLE="$(idle_cpu)"
    manager topic delete idle >/dev/null

    create_topic bench 6
    wait_leaders bench 6
    local perf=("$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" --topic bench --record-size "$SIZE")
    local many=$((SECS * 400000))
    say "raftbus: produce"
    run_client "$d/produce-w256.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS" --window 256
    w256="$(result_of "$d/produce-w256.log")"
    run_client "$d/produce-unbounded.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS"
    wmax="$(result_of "$d/produce-unbounded.log")"
    R_PUB256="$w256"
    R_PUBMAX="$wmax"
    if ((KAFKA_ROWS)); then bench_kafka_rows "$d" bench; fi
    best="$(awk -v a="$(field "$w256" rec_per_s)" -v b="$(field "$wmax" rec_per_s)" 'BEGIN { print (a > b ? a : b) }')"
    half="$(awk -v b="$best" 'BEGIN { printf "%d", b / 2 }')"
    run_client "$d/produce-half.log" "${perf[@]}" --num-records "$((half * SECS))" --throughput "$half" \
        --duration-secs "$((2 * SECS))"
    R_HALF="$(result_of "$d/produce-half.log")"
    run_client "$d/produce-one.log" "${perf[@]}" --num-records "$many" --duration-secs 10 --window 1 --linger-ms 0
    R_ONE="$(result_of "$d/produce-one.log")"

    say "raftbus: consume with one consumer group"
    local total=0
    for r in "$w256" "$wmax" "$R_HALF" "$R_ONE"; do total=$((total + $(count_of "$r"))); done
    run_client "$d/consume.log" "$BIN_DIR/consumer" perf --bootstrap "$BOOTSTRAP" --topic bench \
        --group bench-consumers --messages "$total"
    R_CONSUME="$(result_of "$d/consume.log")"

    if ((SCALING)); then bench_scaling; fi

    say "raftbus: failover (leader of a 1-partition RF 3 topic, $ROUNDS rounds each)"
    create_topic failover 1
    wait_leaders failover 1
    failover_series raftbus R "$d"
}

# ---- TLS rows (issue 12) -------------------------------------------------------------------------
# The 256-in-flight and one-at-a-time produce rows with security on and off: each side on a fresh
# cluster (on: as cluster.sh starts it; off: INSECURE=1, RAFTBUS_SECURITY__INSECURE=true on every
# node), the same topic (6 partitions, RF 3, leaders settled) and BENCH_SECS per row;
# BENCH_TLS_ROUNDS such pairs. RESULT lines, one a line per round, in T_PUB256[on|off] and
# T_ONE[on|off].
declare -A T_PUB256 T_ONE
tls_side() { # on|off ROUND LOGDIR
    local side="$1" round="$2" d="$3" perf many r
    CLUSTER_INSECURE=$([[ "$side" == off ]] && echo 1 || echo 0)
    say "raftbus: TLS rows, security $side (round $round of $TLS_ROUNDS)"
    cluster_up
    if [[ "$side" == on && -z "${RAFTBUS_CA_CERT:-}" ]]; then
        die "security on, but cluster.sh gave no CA: is scripts/cluster.sh secure yet?"
    fi
    manager topic delete demo >/dev/null # cluster.sh's demo topic: only ours count
    create_topic bench 6
    wait_leaders bench 6
    await_settled bench || true # measured anyway; the warning is in the output
    perf=("$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" --topic bench --record-size "$SIZE")
    many=$((SECS * 400000))
    run_client "$d/produce-w256-$side-$round.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS" --window 256
    r="$(result_of "$d/produce-w256-$side-$round.log")"
    say "  256 in flight: ${r:-no RESULT}"
    [[ -z "$r" ]] || T_PUB256[$side]+="$r"$'\n'
    run_client "$d/produce-one-$side-$round.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS" \
        --window 1 --linger-ms 0
    r="$(result_of "$d/produce-one-$side-$round.log")"
    say "  one-at-a-time: ${r:-no RESULT}"
    [[ -z "$r" ]] || T_ONE[$side]+="$r"$'\n'
    cluster_down
}

bench_tls() {
    local d="$BENCH_DIR/logs/raftbus/tls" round
    mkdir -p "$d"
    for ((round = 1; round <= TLS_ROUNDS; round++)); do
        tls_side on "$round" "$d"
        tls_side off "$round" "$d"
    done
    CLUSTER_INSECURE=$MAIN_INSECURE
}

# `median_result LINES`: of RESULT lines (one a line), the one with the median rec_per_s (the
# lower middle for an even count); empty without any.
median_result() {
    local line
    while IFS= read -r line; do
        if [[ -n "$line" ]]; then printf '%s %s\n' "$(field "$line" rec_per_s)" "$line"; fi
    done <<<"$1" | sort -g | awk '{ a[NR] = $0 } END { if (NR) { l = a[int((NR + 1) / 2)]; sub(/^[^ ]* /, "", l); print l } }'
}

# `pct_diff ON OFF`: ON relative to OFF in percent, signed ("-8.1%"); "-" without both.
pct_diff() {
    [[ -n "$1" && -n "$2" && "$1" != n/a && "$2" != n/a ]] || { echo -; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%+.1f%%\n", 100 * (a / b - 1) }'
}
# `ms_diff ON-LINE OFF-LINE`: the latency difference, "p50 +0.12 / p99 +0.40 ms".
ms_diff() {
    [[ -n "$1" && -n "$2" ]] || { echo -; return; }
    awk -v a="$(field "$1" p50_ms)" -v b="$(field "$2" p50_ms)" -v c="$(field "$1" p99_ms)" \
        -v e="$(field "$2" p99_ms)" 'BEGIN { printf "p50 %+.2f / p99 %+.2f ms\n", a - b, c - e }'
}

print_tls_table() {
    local on off
    echo
    echo "Cost of TLS: security on (TLS on every listener, admin token) against off"
    echo "(RAFTBUS_SECURITY__INSECURE=true), each on a fresh cluster: 6 partitions, RF 3, 100-byte"
    echo "records, acks=all, ${SECS} s per row; $TLS_ROUNDS on/off pair(s), alternating$( ((TLS_ROUNDS > 1)) &&
        echo ', each cell the round with the median rec/s (the lower middle of an even count)')."
    echo
    echo "| workload | security on | security off | on vs off |"
    echo "| --- | --- | --- | --- |"
    on="$(median_result "${T_PUB256[on]:-}")" off="$(median_result "${T_PUB256[off]:-}")"
    printf '| %s | %s | %s | %s |\n' "produce, 256 in flight (rec/s)" "$(rate_cell "$on")" "$(rate_cell "$off")" \
        "$(pct_diff "$(field "$on" rec_per_s)" "$(field "$off" rec_per_s)")"
    printf '| %s | %s | %s | %s |\n' "  latency, 256 in flight" "$(lat_cell "$on")" "$(lat_cell "$off")" "$(ms_diff "$on" "$off")"
    on="$(median_result "${T_ONE[on]:-}")" off="$(median_result "${T_ONE[off]:-}")"
    printf '| %s | %s | %s | %s |\n' "one-at-a-time (rec/s)" "$(rate_cell "$on")" "$(rate_cell "$off")" \
        "$(pct_diff "$(field "$on" rec_per_s)" "$(field "$off" rec_per_s)")"
    printf '| %s | %s | %s | %s |\n' "  latency, one-at-a-time" "$(lat_cell "$on")" "$(lat_cell "$off")" "$(ms_diff "$on" "$off")"
    echo
    echo "Logs: $BENCH_DIR/logs/raftbus/tls. Reproduce: BENCH_ONLY=tls BENCH_SECS=${SECS} BENCH_TLS_ROUNDS=${TLS_ROUNDS} scripts/bench.sh"
}

# ---- scaling rows (issue 11) -------------------------------------------------------------------
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; } # FROM TO: seconds

# `scrape TAG`: every broker's /metrics into $SCALE_DIR/metrics-TAG-ID.txt (empty when a broker
# does not answer: its figures then read n/a).
scrape() {
    local i
    for ((i = 1; i <= BROKERS; i++)); do
        api_get "$i" /metrics -m 5 >"$SCALE_DIR/metrics-$1-$i.txt" 2>/dev/null ||
            : >"$SCALE_DIR/metrics-$1-$i.txt"
    done
}

# `metrics_delta SECS TAG-BEFORE TAG-AFTER [BROKER]`: the METRICS line of scripts/metrics-delta.py
# for one broker, or all brokers summed without BROKER; every value n/a if the helper fails.
metrics_delta() {
    local secs="$1" b="$2" a="$3" i files=()
    for ((i = 1; i <= BROKERS; i++)); do
        [[ -n "${4:-}" && "$4" != "$i" ]] && continue
        files+=("$SCALE_DIR/metrics-$b-$i.txt" "$SCALE_DIR/metrics-$a-$i.txt")
    done
    python3 "$ROOT/scripts/metrics-delta.py" "$secs" "${files[@]}" 2>>"$SCALE_DIR/metrics-delta.err" ||
        echo "METRICS tx_per_s=n/a"
}

# SQL on the benchmark's Postgres (every broker's and manager's database lives in it); empty on
# failure.
pg_sql() {
    [[ -n "${PG_BIN:-}" ]] || PG_BIN="$("$ROOT/scripts/pg.sh" bindir 2>/dev/null)" || PG_BIN=/usr/bin
    "$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1" 2>/dev/null || true
}

# Deletes TOPIC and waits (bounded, a warning only) until no broker hosts a replica of it, so
# that the next row starts without its groups being torn down.
drop_topic() {
    local deadline=$((SECONDS + 120)) i n c
    manager topic delete "$1" >/dev/null 2>&1 || { say "  could not delete topic $1"; return 0; }
    while :; do
        n=0
        for ((i = 1; i <= BROKERS; i++)); do
            c="$(api_get "$i" /v1/partitions -m 5 2>/dev/null |
                jq --arg t "$1" '[.[] | select(.topic == $t)] | length' 2>/dev/null || true)"
            [[ "$c" =~ ^[0-9]+$ ]] && n=$((n + c))
        done
        ((n == 0)) && return 0
        if ((SECONDS >= deadline)); then
            say "  topic $1: $n replicas still hosted 120 s after its deletion; going on"
            return 0
        fi
        sleep 0.5
    done
}

# One scaling row: a fresh topic of P partitions (RF 3), 256 in flight for SECS seconds, and
# the counters around it. Results in S_* (keyed by P, and P/BROKER for the per-broker ones).
declare -A S_READY S_RESULT S_WAL S_METRICS
scaling_row() { # P
    local p="$1" topic="scale-$1" t0 t1 lsn wal secs r recs i
    say "raftbus: scaling, 256 in flight to $p partitions (RF 3)"
    t0="$(now)"
    if ! manager topic create "$topic" --partitions "$p" --replication-factor 3 --wait-ms 0 \
        >"$SCALE_DIR/create-$p.log" 2>&1; then
        say "  creating $topic failed: $(tail -n 2 "$SCALE_DIR/create-$p.log" | tr '\n' ' ')"
        S_READY[$p]="create failed"
        drop_topic "$topic"
        return 0
    fi
    if ! await_leaders "$topic" "$p" "$CREATE_TIMEOUT"; then
        S_READY[$p]="> $CREATE_TIMEOUT s ($(led_count "$topic") of $p led)"
        drop_topic "$topic"
        return 0
    fi
    S_READY[$p]="$(elapsed "$t0" "$(now)") s"
    say "  every partition of $topic has a leader after ${S_READY[$p]}"
    await_settled "$topic" 120 || true # measured anyway; the warning is in the output

    scrape "before-$p"
    lsn="$(pg_sql 'SELECT pg_current_wal_lsn()')"
    t0="$(now)"
    run_client "$SCALE_DIR/produce-$p.log" "$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" \
        --topic "$topic" --record-size "$SIZE" --num-records "$((SECS * 400000))" \
        --duration-secs "$SECS" --window 256
    t1="$(now)"
    wal=""
    [[ -n "$lsn" ]] && wal="$(pg_sql "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn')::bigint")"
    scrape "after-$p"
    secs="$(elapsed "$t0" "$t1")"

    r="$(result_of "$SCALE_DIR/produce-$p.log")"
    S_RESULT[$p]="$r"
    recs="$(count_of "$r")"
    # WAL bytes per byte of record payload stored per replica.
    S_WAL[$p]="$(awk -v w="$wal" -v n="$recs" -v s="$SIZE" 'BEGIN {
        if (w == "" || n == 0) print "n/a"; else printf "%.2f (%.1f MB)", w / (n * s * 3), w / 1e6 }')"
    S_METRICS[$p]="$(metrics_delta "$secs" "before-$p" "after-$p")"
    for ((i = 1; i <= BROKERS; i++)); do
        S_METRICS[$p/$i]="$(metrics_delta "$secs" "before-$p" "after-$p" "$i")"
    done
    say "  ${r:-no RESULT (see $SCALE_DIR/produce-$p.log)}; WAL ${S_WAL[$p]}; over $secs s:"
    say "  ${S_METRICS[$p]}"
    drop_topic "$topic"
}

bench_scaling() {
    local p
    SCALE_DIR="$BENCH_DIR/logs/raftbus/scaling"
    mkdir -p "$SCALE_DIR"
    for p in $SCALING_PARTITIONS; do scaling_row "$p"; done
}

val() { local v; v="$(field "$1" "$2")"; echo "${v:-n/a}"; } # LINE KEY: n/a when absent
# A per-second figure: one decimal below 100, else whole with thousands separators.
num_cell() {
    case "$1" in
        "" | n/a) echo n/a ;;
        *) if awk -v v="$1" 'BEGIN { exit !(v < 100) }'; then printf '%.1f' "$1"; else fmt_int "$1"; fi ;;
    esac
}
# Postgres transactions/s: the sum, and the two lanes when the binaries count them apart (before
# ffc38b2 applied state had a writer of its own; now it shares the log's transactions).
tx_cell() { # METRICS-LINE
    local all log state
    all="$(field "$1" tx_per_s)" log="$(field "$1" tx_log_per_s)" state="$(field "$1" tx_state_per_s)"
    if [[ -z "$all" || "$all" == n/a ]]; then echo n/a; return; fi
    if [[ "${log:-n/a}" == n/a || "${state:-n/a}" == n/a ]]; then num_cell "$all"; return; fi
    echo "$(num_cell "$all") (log $(num_cell "$log") + state $(num_cell "$state"))"
}

print_scaling_table() {
    local p i m r
    echo
    echo "Scaling: 256 in flight (--window 256), 100-byte records, RF 3, acks=all, ${SECS} s per row,"
    echo "one fresh topic per row on the same cluster (deleted after its row)."
    echo
    echo "| partitions | topic created, all led | rec/s | MB/s | latency | Postgres WAL bytes per record byte per replica (WAL) |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for p in $SCALING_PARTITIONS; do
        r="${S_RESULT[$p]:-}"
        printf '| %s | %s | %s | %s | %s | %s |\n' "$p" "${S_READY[$p]:--}" "$(rate_cell "$r")" \
            "$([[ -n "$r" ]] && field "$r" mb_per_s || echo -)" "$(lat_cell "$r")" "${S_WAL[$p]:--}"
    done
    echo
    echo "Per broker over the same runs (/metrics before and after, per second of the run; n/a: the"
    echo "binaries do not count it). Transactions are Postgres commits of the broker's storage."
    echo
    echo "| partitions | broker | Postgres tx/s | entries/tx | groups/tx | peer messages sent/s | Raft RPCs/message | append RPCs received/s | produce requests/s |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for p in $SCALING_PARTITIONS; do
        [[ -n "${S_METRICS[$p]:-}" ]] || continue
        for i in $(seq 1 "$BROKERS") all; do
            if [[ "$i" == all ]]; then m="${S_METRICS[$p]}"; else m="${S_METRICS[$p/$i]}"; fi
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$i" "$(tx_cell "$m")" \
                "$(val "$m" entries_per_tx)" "$(val "$m" groups_per_tx)" \
                "$(num_cell "$(field "$m" peer_msgs_per_s)")" "$(val "$m" rpcs_per_msg)" \
                "$(num_cell "$(field "$m" append_rpcs_recv_per_s)")" "$(num_cell "$(field "$m" produce_req_per_s)")"
        done
    done
    echo
    echo "WAL: pg_current_wal_lsn() of the one Postgres that holds every broker's and manager's"
    echo "database, before and after the run, over records x ${SIZE} bytes x 3 replicas."
    echo "Reproduce: BENCH_ONLY=scaling BENCH_SECS=${SECS} BENCH_SCALING_PARTITIONS=\"${SCALING_PARTITIONS}\" scripts/bench.sh"
}

# ---- the table -------------------------------------------------------------------------------
# Cells of one system from its results (prefix R, N or Q); "-" where it did not run.
rate_cell() { [[ -n "$1" ]] && echo "$(fmt_int "$(field "$1" rec_per_s)")" || echo -; }
lat_cell() { [[ -n "$1" ]] && echo "p50 $(field "$1" p50_ms) / p99 $(field "$1" p99_ms) ms" || echo -; }
pct_cell() { [[ -n "$1" ]] && echo "$1%" || echo -; }
half_cell() { [[ -n "$1" ]] && echo "$(lat_cell "$1") at $(rate_cell "$1")/s" || echo -; }
# A gap as long as the freeze itself means no failover happened while the leader was frozen.
secs_cell() {
    [[ -n "$1" ]] || { echo -; return; }
    awk -v ms="$1" -v all="$2" -v f="$FREEZE_SECS" 'BEGIN {
        printf "%s%.2f s (%s)\n", (ms >= 980 * f ? ">= " : ""), ms / 1000, all }'
}

# The table: one row per line, `label|goal|cell function|result suffix[|extra suffix]`.
TABLE_ROWS='produce, 256 in flight (rec/s)|2x NATS, 5x RabbitMQ|rate_cell|PUB256
  latency, 256 in flight||lat_cell|PUB256
produce, unbounded window (rec/s)|>= 250,000|rate_cell|PUBMAX
latency at half the max throughput|p99 < 20 ms|half_cell|HALF
one-at-a-time (rec/s)||rate_cell|ONE
  latency, one-at-a-time|p50 <= RabbitMQ, p99 < 3 ms|lat_cell|ONE
consume, one consumer group (rec/s)|>= 500,000|rate_cell|CONSUME
failover, kill -9 of the leader: median (all)|< 0.5 s|secs_cell|KILL|KILL_ALL
failover, leader frozen (SIGSTOP): median (all)|< 3 s|secs_cell|STOP|STOP_ALL
idle, 100 partitions RF 3 (% of one core)|< 10%|pct_cell|IDLE'

print_table() {
    local s cols=(R) names=(Raftbus) c
    ((COMPARE)) && cols+=(N Q) names+=("NATS JetStream" "RabbitMQ quorum")
    row() { # LABEL GOAL CELL...
        printf '| %s | %s |' "$1" "$2"
        shift 2
        printf ' %s |' "$@"
        printf '\n'
    }
    cells() { # FUNCTION VAR-SUFFIX [EXTRA-VAR-SUFFIX]: one cell per system
        local fn="$1" p a b
        for p in "${cols[@]}"; do
            a="${p}_$2" b="${p}_${3:-NONE}"
            "$fn" "${!a:-}" "${!b:-}"
        done
    }
    mapfile -t c < <(printf '%s\n' "${names[@]}")
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(date -u +%F)."
    echo "100-byte records, RF 3, 3 nodes on loopback, acks awaited; Raftbus acks=all (durable in Postgres on a majority),"
    echo "${R_SECURITY:-security unknown}."
    echo
    row workload goal "${c[@]}"
    row --- --- "${c[@]/*/---}"
    local label goal fn v x
    while IFS='|' read -r label goal fn v x; do
        mapfile -t c < <(cells "$fn" "$v" "$x")
        row "$label" "$goal" "${c[@]}"
    done <<<"$TABLE_ROWS"
    echo
    echo "Failover = longest gap between two acknowledgements of a one-at-a-time publisher while"
    echo "the leader is killed (restarted afterwards) or frozen for ${FREEZE_SECS} s; ${ROUNDS} rounds each;"
    echo "'>=' marks a median as long as the freeze: no failover happened while the leader was frozen."
    echo "NATS/RabbitMQ publishers retry a message after 2 s without an ack; Raftbus uses the SDK's own retries."
    echo "Logs: $BENCH_DIR/logs. Reproduce: scripts/bench.sh$( ((COMPARE)) && echo ' --compare')"
}

main() {
    command -v jq >/dev/null || die "jq is required (apt-get install -y jq)"
    if ((SCALING)); then command -v python3 >/dev/null || die "python3 is required for the scaling rows (or BENCH_SCALING=0)"; fi
    rm -rf "$BENCH_DIR/logs" # only this run's logs
    mkdir -p "$BENCH_DIR/logs"
    build
    if ((KAFKA_ROWS)); then
        # shellcheck source=scripts/bench-kafka.sh
        source "$ROOT/scripts/bench-kafka.sh"
        kafka_prepare
    fi
    if ((COMPARE)); then
        # shellcheck source=scripts/bench-compare.sh
        source "$ROOT/scripts/bench-compare.sh"
        compare_prepare
    fi
    [[ "$ONLY" == tls ]] || bench_raftbus
    if ((TLS_ROWS)) && [[ "$ONLY" != scaling ]]; then bench_tls; fi
    if ((COMPARE)); then
        bench_nats
        bench_rabbitmq
    fi
    {
        [[ -n "$ONLY" ]] || print_table
        if ((SCALING)); then print_scaling_table; fi
        if ((TLS_ROWS)) && [[ "$ONLY" != scaling ]]; then print_tls_table; fi
        if ((KAFKA_ROWS)) && [[ -z "$ONLY" || "$ONLY" == kafka ]]; then print_kafka_table; fi
    } | tee "$BENCH_DIR/table.md"
}

main
