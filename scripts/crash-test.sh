#!/usr/bin/env bash
# Crash test against the Docker cluster: a recorded workload runs while a nemesis injects faults
# (kills, pauses, network isolation, Postgres kills), then everything is healed, the workload
# reads everything back, and raftbus-check judges the history.
#
#   scripts/crash-test.sh [--seed N] [--duration SECS] [--kill-every SECS] [--scenario NAME]
#                         [--delivery-timeout SECS] [--negative-control] [--keep]
#
#   --seed N          seeds the fault schedule (bash RANDOM); default: the current time
#   --duration SECS   how long the workload produces (300); faults stop 15 s before its end
#   --kill-every SECS pause between faults (12); one fault at a time
#   --scenario NAME   random (default): one broker or manager killed at a time, for 3-6 s
#                     majority: 2 of the 3 brokers killed together for 15 s (no partition has a
#                       quorum: no send may be acked meanwhile; prints the window's counts)
#                     all-brokers: all 3 brokers killed at once, started after 5-8 s
#                     pause-leader: `docker pause` a broker leading partitions for 8 s
#                     isolate-leader: iptables DROP in a leading broker's netns for 10 s (only
#                       loopback and its own Postgres kept), healed with `iptables -F`
#                     kill-postgres: kill a leading broker's Postgres, start it after 5 s; if the
#                       broker's groups stay stopped, that broker is restarted (a finding)
#   --delivery-timeout SECS  the workload's producer delivery timeout (its default, 30; 10 for
#                     majority, so sends invoked in the 15 s outage give up inside it)
#   --negative-control  UNSAFE brokers ([unsafe] skip_dedup: retries are appended again), the
#                     random scenario at a higher rate; succeeds only if the checker reports
#                     duplicates, so it proves the checker and the workload can see them
#   --keep            leave the cluster running afterwards
#
# Artifacts (history, checker output, fault schedule, findings, `docker logs` of every
# container) go to target/crash/<UTC timestamp>/. Exit status: the checker's (0 clean,
# 1 violations, 2 history unreadable; majority also exits 1 when a send invoked while the
# majority was down was acked), or 3 when the harness itself failed (cluster, topic, workload).
# With --negative-control: 0 when the checker caught duplicates, 1 when it did not.
# Environment: RAFTBUS_NO_BUILD=1 skips `cargo build` and `scripts/docker.sh build`;
# RAFTBUS_PROFILE (release, or debug: every binary from target/debug, images included, as
# scripts/test.sh does to skip a release build); RAFTBUS_BIN_DIR (target/$RAFTBUS_PROFILE)
# holds manager, raftbus-workload and raftbus-check;
# INSECURE=1 runs the cluster without TLS and tokens (passed on to scripts/docker.sh up).
# A secure cluster (the default) is reached with the CA and admin token `docker.sh up` names in
# its export lines: RAFTBUS_CA_CERT and RAFTBUS_TOKEN for the workload and the manager CLI,
# https with the CA and the token for the script's own requests to the brokers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/profile.sh
source "$ROOT/scripts/profile.sh"
DOCKER_SH="$ROOT/scripts/docker.sh"
TOPIC=crash
PARTITIONS=6
# Faults stop this long before the workload's end, so the last outage heals while it still
# produces and its final read sees a healthy cluster.
HEAL_MARGIN=15
# The workload's own bounds: delivery timeout (30 s by default) + 15 s grace, final read 60 s;
# plus slack (raised below for a longer --delivery-timeout).
WORKLOAD_TAIL=180
BROKERS=(broker-1 broker-2 broker-3)
MANAGERS=(manager-1 manager-2 manager-3)
VICTIMS=("${BROKERS[@]}" "${MANAGERS[@]}")
ALL=("${VICTIMS[@]}" pg-broker-1 pg-broker-2 pg-broker-3 pg-manager-1 pg-manager-2 pg-manager-3)
# Client API of broker-N (docker/compose.yml).
broker_api() { echo "172.29.50.2${1#broker-}:9091"; }
# IP of broker-N's own Postgres, pg-broker-N.
broker_pg() { echo "172.29.50.4${1#broker-}"; }

# Scenario timings (seconds).
MAJORITY_DOWN=15         # majority: both victims down this long
MAJORITY_DELIVERY=10     # majority: workload delivery timeout, so sends in the window give up
PAUSE_FOR=8              # pause-leader
ISOLATE_FOR=10           # isolate-leader
PG_DOWN=5                # kill-postgres: Postgres down this long
PG_READY_WAIT=30         # kill-postgres: bound on waiting for Postgres to accept connections
PG_RECOVER_WAIT=15       # kill-postgres: how long the broker gets to show no stopped group
NEGATIVE_RATE=400        # --negative-control: records/s (the workload's default is 200)

SEED="$(date +%s)"
DURATION=300
KILL_EVERY=12
SCENARIO=random
NEGATIVE=0
DELIVERY_TIMEOUT=""
KEEP=0

die() { echo "crash-test.sh: error: $*" >&2; exit 3; }
say() { echo "crash-test.sh: $(date -u +%H:%M:%S) $*"; }
usage() { sed -n '6,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
is_num() { [[ "$1" =~ ^[0-9]+$ ]]; }
# `num_arg "$@"` at a numeric option: its value must follow.
num_arg() {
    [[ $# -ge 2 ]] && is_num "$2" && return 0
    echo "crash-test.sh: $1 needs a number" >&2
    usage
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed) num_arg "$@"; SEED="$2"; shift 2 ;;
        --duration) num_arg "$@"; DURATION="$2"; shift 2 ;;
        --kill-every) num_arg "$@"; KILL_EVERY="$2"; shift 2 ;;
        --scenario) [[ $# -ge 2 ]] || usage; SCENARIO="$2"; shift 2 ;;
        --delivery-timeout) num_arg "$@"; DELIVERY_TIMEOUT="$2"; shift 2 ;;
        --negative-control) NEGATIVE=1; shift ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage ;;
        *) echo "crash-test.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
# Longest a single fault of the scenario lasts (injection to heal), to fit it before the end.
case "$SCENARIO" in
    random) FAULT_LEN=6 ;;
    majority) FAULT_LEN=$((MAJORITY_DOWN + 5)) ;;
    all-brokers) FAULT_LEN=10 ;;
    pause-leader) FAULT_LEN=$((PAUSE_FOR + 2)) ;;
    isolate-leader) FAULT_LEN=$((ISOLATE_FOR + 2)) ;;
    kill-postgres) FAULT_LEN=$((PG_DOWN + PG_RECOVER_WAIT + 10)) ;;
    *) echo "crash-test.sh: unknown scenario '$SCENARIO'" >&2; usage ;;
esac
if [[ $NEGATIVE -eq 1 && "$SCENARIO" != random ]]; then
    echo "crash-test.sh: --negative-control runs the random scenario only" >&2
    usage
fi
[[ "$DURATION" -gt "$HEAL_MARGIN" ]] || die "--duration must exceed $HEAL_MARGIN s"
[[ "$KILL_EVERY" -ge 1 ]] || die "--kill-every must be at least 1"
[[ -x "$DOCKER_SH" ]] || die "$DOCKER_SH is missing or not executable"
if [[ "$SCENARIO" == isolate-leader ]]; then
    [[ "$(id -u)" == 0 ]] || die "isolate-leader needs root (nsenter + iptables)"
    for t in nsenter iptables; do
        command -v "$t" >/dev/null || die "isolate-leader needs $t on the host"
    done
fi
command -v python3 >/dev/null || die "python3 is needed to summarize the history"
RANDOM=$SEED

# The brokers read RAFTBUS_UNSAFE__SKIP_DEDUP through docker/compose.yml. Set it explicitly
# either way: an exported value left in the caller's shell must never make a normal run unsafe.
if [[ $NEGATIVE -eq 1 ]]; then
    export RAFTBUS_UNSAFE__SKIP_DEDUP=true
    WL_ARGS=(--rate "$NEGATIVE_RATE")
else
    export RAFTBUS_UNSAFE__SKIP_DEDUP=false
    WL_ARGS=()
fi
[[ -n "$DELIVERY_TIMEOUT" || "$SCENARIO" != majority ]] || DELIVERY_TIMEOUT=$MAJORITY_DELIVERY
if [[ -n "$DELIVERY_TIMEOUT" ]]; then
    WL_ARGS+=(--delivery-timeout-secs "$DELIVERY_TIMEOUT")
    [[ "$DELIVERY_TIMEOUT" -le 30 ]] || WORKLOAD_TAIL=$((WORKLOAD_TAIL + DELIVERY_TIMEOUT - 30))
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
ART="$ROOT/target/crash/$STAMP"
RUN_ID="s$SEED-$STAMP"
mkdir -p "$ART/logs"
printf 'seed=%s duration=%s kill_every=%s scenario=%s negative_control=%s workload_args=%s run_id=%s\n' \
    "$SEED" "$DURATION" "$KILL_EVERY" "$SCENARIO" "$NEGATIVE" "${WL_ARGS[*]:-none}" "$RUN_ID" |
    tee "$ART/params"

# ---- Cleanup: always collect logs, heal, and take the cluster down unless --keep ----------
WL_PID=""
CLUSTER_UP=0
CLEANED=0
# Containers currently paused / isolated by this script (healed on every exit path).
PAUSED=()
ISOLATED=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    [[ $CLEANED -eq 0 ]] || return 0
    CLEANED=1
    exec 3>&- || true
    if [[ -n "$WL_PID" ]] && kill -0 "$WL_PID" 2>/dev/null; then
        say "stopping the workload (pid $WL_PID)"
        kill "$WL_PID" 2>/dev/null || true
    fi
    if [[ $CLUSTER_UP -eq 1 ]]; then
        heal_faults
        collect_logs
        if [[ $KEEP -eq 1 ]]; then
            say "--keep: cluster left running; scripts/docker.sh down removes it"
        else
            timeout 300 "$DOCKER_SH" down >"$ART/docker-down.log" 2>&1 || say "docker.sh down failed"
        fi
    fi
    rm -f "$ART/.auth-header" # the admin token; never left among the artifacts
    say "artifacts in $ART"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A write to the FIFO after the workload died must fail, not kill this script with SIGPIPE.
trap '' PIPE

# shellcheck disable=SC2317 # invoked from cleanup
collect_logs() {
    local c
    for c in "${ALL[@]}"; do
        timeout 30 docker logs "$c" >"$ART/logs/$c.log" 2>&1 || true
    done
}

running() { [[ "$(timeout 30 docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]]; }
container_pid() { timeout 30 docker inspect -f '{{.State.Pid}}' "$1" 2>/dev/null; }

# Starts a container and waits (bounded) until Docker reports it running.
start_container() {
    local c="$1" i
    timeout 60 docker start "$c" >/dev/null || say "docker start $c failed"
    for ((i = 0; i < 60; i++)); do
        running "$c" && return 0
        sleep 0.5
    done
    say "warning: $c is not running 30 s after docker start"
}

# Writes one nemesis event to the workload (and the schedule log).
nemesis() {
    echo "nemesis $*" >&3 || say "warning: could not tell the workload: nemesis $*"
    echo "$(date -u +%H:%M:%S.%N) nemesis $*" >>"$ART/nemesis.log"
}

# A finding worth reading after the run (also printed at the end).
finding() {
    say "FINDING: $*"
    echo "$(date -u +%H:%M:%S) $*" >>"$ART/findings.txt"
}

# ---- Fault primitives ------------------------------------------------------------------------

# Drops every packet in and out of broker CONTAINER's network namespace except loopback and
# its own Postgres, with the host's iptables run inside the namespace (the images need neither
# iptables nor NET_ADMIN). Its Postgres stays reachable on purpose: the fault is a network
# partition from peers, managers and clients; cutting the database too turns it into a
# storage outage (openraft stops every group on a storage error, see kill-postgres).
isolate() {
    local c="$1" pid pg
    pg="$(broker_pg "$c")"
    pid="$(container_pid "$c" || true)"
    if ! [[ "$pid" =~ ^[1-9][0-9]*$ ]]; then
        say "no pid for $c"
        return 1
    fi
    nsenter -n -t "$pid" iptables -A INPUT -i lo -j ACCEPT &&
        nsenter -n -t "$pid" iptables -A OUTPUT -o lo -j ACCEPT &&
        nsenter -n -t "$pid" iptables -A INPUT -s "$pg" -j ACCEPT &&
        nsenter -n -t "$pid" iptables -A OUTPUT -d "$pg" -j ACCEPT &&
        nsenter -n -t "$pid" iptables -A INPUT -j DROP &&
        nsenter -n -t "$pid" iptables -A OUTPUT -j DROP
}

# Flushes the filter rules of CONTAINER's network namespace (undoes `isolate`).
unisolate() {
    local c="$1" pid
    pid="$(container_pid "$c" || true)"
    if ! [[ "$pid" =~ ^[1-9][0-9]*$ ]]; then
        say "no pid for $c"
        return 1
    fi
    nsenter -n -t "$pid" iptables -F
}

# Undoes pauses and isolations this script left in place (an interrupted fault).
heal_faults() {
    local c
    for c in "${PAUSED[@]}"; do
        say "unpausing $c"
        timeout 30 docker unpause "$c" >/dev/null 2>&1 || say "docker unpause $c failed"
    done
    PAUSED=()
    for c in "${ISOLATED[@]}"; do
        say "flushing iptables of $c"
        unisolate "$c" || say "iptables -F in $c failed"
    done
    ISOLATED=()
}

# Brokers that lead at least one partition of the topic according to the managers, one a line.
leaders() {
    timeout 15 "$BIN_DIR/manager" --bootstrap "$RAFTBUS_BOOTSTRAP" topic describe "$TOPIC" \
        2>/dev/null | awk '$2 ~ /^broker-[0-9]+$/ { print $2 }' | sort -u
}

# Sets LEADER to a (seeded) choice among the brokers leading partitions; a random broker when
# the managers name none. Draws exactly one RANDOM either way.
pick_leader() {
    local r=$RANDOM list=()
    mapfile -t list < <(leaders || true)
    if [[ ${#list[@]} -eq 0 ]]; then
        LEADER="${BROKERS[r % ${#BROKERS[@]}]}"
        say "warning: the managers name no leader of $TOPIC; picking $LEADER"
    else
        LEADER="${list[r % ${#list[@]}]}"
        say "leaders of $TOPIC: ${list[*]}; picked $LEADER"
    fi
}

# GET of PATH on BROKER's client API: https with the cluster CA and the admin token (its header
# read from a file, so the token is not on a command line), plain http when insecure.
broker_get() {
    local b="$1" path="$2"
    if [[ -n "${RAFTBUS_CA_CERT:-}" ]]; then
        curl -fsS -m 3 --cacert "$RAFTBUS_CA_CERT" -H "@$AUTH_HEADER" "https://$(broker_api "$b")$path"
    else
        curl -fsS -m 3 "http://$(broker_api "$b")$path"
    fi
}

# Partition replicas of BROKER whose group stopped (role "stopped": a fatal storage error),
# or "unreachable" when its API does not answer.
stopped_groups() {
    local out
    out="$(broker_get "$1" /v1/partitions 2>/dev/null)" || { echo unreachable; return 0; }
    python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p.get("role") == "stopped"))' <<<"$out" \
        || echo unreachable
}

# ---- Scenarios: one fault each, injected, held and healed ------------------------------------

fault_random() {
    local victim down_for
    victim="${VICTIMS[RANDOM % ${#VICTIMS[@]}]}"
    down_for=$((3 + RANDOM % 4))
    say "kill $victim for $down_for s"
    timeout 30 docker kill "$victim" >/dev/null || say "docker kill $victim failed"
    nemesis start kill "$victim"
    sleep "$down_for"
    start_container "$victim"
    nemesis end kill "$victim"
}

fault_majority() {
    local survivor=$((RANDOM % 3)) victims=() i c
    for i in 0 1 2; do [[ $i -eq $survivor ]] || victims+=("${BROKERS[i]}"); done
    say "kill ${victims[*]} (majority) for $MAJORITY_DOWN s; ${BROKERS[survivor]} stays up"
    timeout 30 docker kill "${victims[@]}" >/dev/null || say "docker kill ${victims[*]} failed"
    nemesis start kill "${victims[@]}"
    sleep "$MAJORITY_DOWN"
    for c in "${victims[@]}"; do start_container "$c"; done
    nemesis end kill "${victims[@]}"
}

fault_all_brokers() {
    local down_for=$((5 + RANDOM % 4)) c
    say "kill all brokers for $down_for s"
    timeout 30 docker kill "${BROKERS[@]}" >/dev/null || say "docker kill ${BROKERS[*]} failed"
    nemesis start kill "${BROKERS[@]}"
    sleep "$down_for"
    for c in "${BROKERS[@]}"; do start_container "$c"; done
    nemesis end kill "${BROKERS[@]}"
}

fault_pause_leader() {
    pick_leader
    say "pause $LEADER for $PAUSE_FOR s"
    if ! timeout 30 docker pause "$LEADER" >/dev/null; then
        say "docker pause $LEADER failed"
        return 0
    fi
    PAUSED=("$LEADER")
    nemesis start pause "$LEADER"
    sleep "$PAUSE_FOR"
    timeout 30 docker unpause "$LEADER" >/dev/null || say "docker unpause $LEADER failed"
    PAUSED=()
    nemesis end pause "$LEADER"
}

fault_isolate_leader() {
    pick_leader
    say "isolate $LEADER (iptables DROP; loopback and its Postgres kept) for $ISOLATE_FOR s"
    ISOLATED=("$LEADER")
    if ! isolate "$LEADER"; then
        say "isolating $LEADER failed"
        unisolate "$LEADER" || true
        ISOLATED=()
        return 0
    fi
    nemesis start isolate "$LEADER"
    sleep "$ISOLATE_FOR"
    unisolate "$LEADER" || say "iptables -F in $LEADER failed"
    ISOLATED=()
    nemesis end isolate "$LEADER"
}

PG_OUTAGES=0
PG_RESTARTS=0
fault_kill_postgres() {
    local pg n i stopped="" since
    pick_leader
    pg="pg-$LEADER"
    PG_OUTAGES=$((PG_OUTAGES + 1))
    since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    say "kill $pg (database of $LEADER) for $PG_DOWN s"
    timeout 30 docker kill "$pg" >/dev/null || say "docker kill $pg failed"
    nemesis start kill "$pg"
    sleep "$PG_DOWN"
    start_container "$pg"
    for ((i = 0; i < PG_READY_WAIT * 2; i++)); do
        timeout 5 docker exec "$pg" pg_isready -q >/dev/null 2>&1 && break
        sleep 0.5
    done
    nemesis end kill "$pg"
    say "$pg is back (accepting connections after $((i / 2)) s); watching $LEADER"
    # Does the broker recover by itself? Its stopped groups (openraft Fatal on a storage
    # error) are counted through its admin API until none is left or the wait runs out.
    for ((i = 0; i < PG_RECOVER_WAIT; i++)); do
        stopped="$(stopped_groups "$LEADER")"
        [[ "$stopped" == 0 ]] && break
        sleep 1
    done
    if [[ "$stopped" == 0 ]]; then
        say "$LEADER has no stopped group after $pg returned ($i s)"
        echo "$(date -u +%H:%M:%S) outage $PG_OUTAGES: $LEADER recovered without a restart" \
            >>"$ART/findings.txt"
        return 0
    fi
    finding "$LEADER still has stopped groups ($stopped) ${PG_RECOVER_WAIT} s after $pg" \
        "returned: groups stopped by a storage error do not restart by themselves; restarting $LEADER"
    timeout 30 docker logs --since "$since" "$LEADER" 2>&1 |
        grep -m 5 -iE 'fatal|storage|stopp|error' | sed 's/^/    /' >>"$ART/findings.txt" || true
    PG_RESTARTS=$((PG_RESTARTS + 1))
    timeout 60 docker stop -t 5 "$LEADER" >/dev/null || say "docker stop $LEADER failed"
    nemesis start restart "$LEADER"
    start_container "$LEADER"
    nemesis end restart "$LEADER"
    for ((i = 0; i < 20; i++)); do
        n="$(stopped_groups "$LEADER")"
        [[ "$n" == 0 ]] && break
        sleep 1
    done
    say "$LEADER after the restart: stopped groups=$n"
}

# ---- Build, start the cluster, create the topic --------------------------------------------
if [[ "${RAFTBUS_NO_BUILD:-0}" != 1 ]]; then
    say "building $PROFILE binaries and images"
    # Every binary, as docker.sh builds them: one feature set, so neither build redoes the other.
    (cd "$ROOT" && cargo build "${CARGO_PROFILE[@]}" --bins) \
        || die "cargo build failed"
    timeout 1800 "$DOCKER_SH" build || die "scripts/docker.sh build failed"
fi
for b in manager raftbus-workload raftbus-check; do
    [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b not found (build it or set RAFTBUS_BIN_DIR)"
done

say "starting the cluster (brokers with RAFTBUS_UNSAFE__SKIP_DEDUP=$RAFTBUS_UNSAFE__SKIP_DEDUP)"
CLUSTER_UP=1
timeout 900 "$DOCKER_SH" up >"$ART/docker-up.log" 2>&1 \
    || { tail -20 "$ART/docker-up.log" >&2; die "scripts/docker.sh up failed"; }
# `export_line NAME`: the last `export NAME=...` line docker.sh up printed (empty if none).
export_line() { grep -E "^export $1=" "$ART/docker-up.log" | tail -1 || true; }
EXPORT_LINE="$(export_line RAFTBUS_BOOTSTRAP)"
[[ -n "$EXPORT_LINE" ]] || die "scripts/docker.sh up printed no 'export RAFTBUS_BOOTSTRAP=' line"
# Parsed, not eval'ed: only the values are taken from the other script's output.
RAFTBUS_BOOTSTRAP="${EXPORT_LINE#export RAFTBUS_BOOTSTRAP=}"
RAFTBUS_BOOTSTRAP=${RAFTBUS_BOOTSTRAP//[\"\']/}
export RAFTBUS_BOOTSTRAP
[[ -n "${RAFTBUS_BOOTSTRAP:-}" ]] || die "RAFTBUS_BOOTSTRAP is empty"
# The CA and the admin token: `export RAFTBUS_CA_CERT='PATH'` and
# `export RAFTBUS_TOKEN="$(cat 'PATH')"` (the token itself is never printed), or neither for an
# insecure cluster. Values left in the caller's shell never count.
unset RAFTBUS_CA_CERT RAFTBUS_TOKEN
AUTH_HEADER="$ART/.auth-header"
CA_LINE="$(export_line RAFTBUS_CA_CERT)"
if [[ -n "$CA_LINE" ]]; then
    RAFTBUS_CA_CERT="${CA_LINE#export RAFTBUS_CA_CERT=}"
    RAFTBUS_CA_CERT=${RAFTBUS_CA_CERT//[\"\']/}
    [[ -s "$RAFTBUS_CA_CERT" ]] || die "the CA docker.sh named ($RAFTBUS_CA_CERT) is missing"
    TOKEN_LINE="$(export_line RAFTBUS_TOKEN)"
    [[ "$TOKEN_LINE" =~ \$\(cat\ \'([^\']+)\'\) ]] ||
        die "scripts/docker.sh up printed a CA but no 'export RAFTBUS_TOKEN=\"\$(cat 'FILE')\"' line"
    TOKEN_FILE="${BASH_REMATCH[1]}"
    RAFTBUS_TOKEN="$(tr -d '[:space:]' <"$TOKEN_FILE")" || die "cannot read the token file $TOKEN_FILE"
    [[ -n "$RAFTBUS_TOKEN" ]] || die "the token file $TOKEN_FILE is empty"
    export RAFTBUS_CA_CERT RAFTBUS_TOKEN
    (umask 077; printf 'Authorization: Bearer %s\n' "$RAFTBUS_TOKEN" >"$AUTH_HEADER")
    SECURITY="TLS, CA $RAFTBUS_CA_CERT, admin token"
else
    SECURITY="INSECURE (plain HTTP, no token)"
fi
for c in "${ALL[@]}"; do running "$c" || die "container $c is not running after up"; done
say "cluster up, bootstrap $RAFTBUS_BOOTSTRAP, $SECURITY"
# The brokers log a loud UNSAFE warning when skip_dedup is on: it must be there exactly when
# asked for, or the run (negative control or not) would not test what it claims.
# (The log is read whole first: `grep -q` closing the pipe early would fail it under pipefail.)
for b in "${BROKERS[@]}"; do
    blog="$(timeout 30 docker logs "$b" 2>&1 || true)"
    if [[ "$blog" == *UNSAFE* ]]; then
        [[ $NEGATIVE -eq 1 ]] || die "$b runs with an [unsafe] switch on"
    else
        [[ $NEGATIVE -eq 0 ]] || die "$b does not log the UNSAFE skip_dedup warning (old image?)"
    fi
done

# Retried while the cluster settles; an existing topic holds an earlier run's records, which
# the checker would rightly call unexpected, so that is fatal.
created=0
for ((i = 0; i < 12; i++)); do
    if timeout 60 "$BIN_DIR/manager" --bootstrap "$RAFTBUS_BOOTSTRAP" topic create "$TOPIC" \
        --partitions "$PARTITIONS" --replication-factor 3 >>"$ART/topic.log" 2>&1; then
        created=1
        break
    fi
    if grep -q 'topic_exists\|already exists' "$ART/topic.log"; then
        die "topic $TOPIC exists already (an earlier run's cluster? scripts/docker.sh down)"
    fi
    sleep 5
done
[[ $created -eq 1 ]] || { cat "$ART/topic.log" >&2; die "could not create topic $TOPIC"; }

# ---- Workload in the background, nemesis events through a FIFO on its stdin ---------------
FIFO="$ART/nemesis.fifo"
mkfifo "$FIFO"
"$BIN_DIR/raftbus-workload" --bootstrap "$RAFTBUS_BOOTSTRAP" --topic "$TOPIC" \
    --duration-secs "$DURATION" --run-id "$RUN_ID" --history "$ART/history.jsonl" \
    "${WL_ARGS[@]}" <"$FIFO" >"$ART/workload.log" 2>&1 &
WL_PID=$!
exec 3>"$FIFO" # opens once the workload opened its end; keeps the FIFO open until the end
STARTED=$SECONDS
say "workload running (pid $WL_PID, run id $RUN_ID${WL_ARGS[*]:+, ${WL_ARGS[*]}})"

# ---- Fault phase: one fault at a time ---------------------------------------------------------
FAULT_END=$((STARTED + DURATION - HEAL_MARGIN))
FAULTS=0
while kill -0 "$WL_PID" 2>/dev/null; do
    # Room for the pause, the longest fault of the scenario and its heal before FAULT_END.
    left=$((FAULT_END - SECONDS))
    [[ $left -gt $((KILL_EVERY + FAULT_LEN)) ]] || break
    sleep "$KILL_EVERY"
    kill -0 "$WL_PID" 2>/dev/null || break
    case "$SCENARIO" in
        random) fault_random ;;
        majority) fault_majority ;;
        all-brokers) fault_all_brokers ;;
        pause-leader) fault_pause_leader ;;
        isolate-leader) fault_isolate_leader ;;
        kill-postgres) fault_kill_postgres ;;
    esac
    FAULTS=$((FAULTS + 1))
done
say "fault phase over: $FAULTS faults"

# ---- Heal, let the workload finish and read everything back --------------------------------
say "healing: unpausing, flushing iptables, starting anything that is down"
heal_faults
for c in "${ALL[@]}"; do running "$c" || start_container "$c"; done
DEADLINE=$((STARTED + DURATION + WORKLOAD_TAIL))
while kill -0 "$WL_PID" 2>/dev/null && [[ $SECONDS -lt $DEADLINE ]]; do sleep 1; done
if kill -0 "$WL_PID" 2>/dev/null; then
    say "workload still running after $((DEADLINE - STARTED)) s: stopping it"
    kill "$WL_PID" 2>/dev/null || true
fi
WL_RC=0
wait "$WL_PID" || WL_RC=$?
WL_PID=""
exec 3>&-
tail -3 "$ART/workload.log"

CHECK_RC=0
"$BIN_DIR/raftbus-check" "$ART/history.jsonl" --run-id "$RUN_ID" >"$ART/check.txt" 2>&1 || CHECK_RC=$?
head -40 "$ART/check.txt"

# majority: what the workload was told while no partition had a quorum. ok_sends counts `ok`
# completions inside a window (start .. end of a 2-broker kill); new_ok those of sends invoked
# inside it, which must be 0 (an earlier send may legitimately complete just after the kill:
# it was committed before). refused: fail/info completions inside a window.
MAJORITY_BAD=0
if [[ "$SCENARIO" == majority ]]; then
    MAJ_LINE="$(python3 - "$ART/history.jsonl" <<'PY'
import json, sys

events = []
with open(sys.argv[1]) as f:
    for line in f:
        try:
            events.append(json.loads(line))
        except ValueError:
            pass  # a torn last line
events.sort(key=lambda e: e["i"])
windows, start = [], None
for e in events:
    if e.get("f") == "nemesis" and e.get("fault") == "kill" and len(e.get("targets", [])) == 2:
        if e.get("phase") == "start":
            start = e["t_ns"]
        elif start is not None:
            windows.append((start, e["t_ns"]))
            start = None
invoked_at, ok, new_ok, refused, invoked = {}, 0, 0, 0, 0
for e in events:
    if e.get("f") != "send":
        continue
    t = e["t_ns"]
    w = next((w for w in windows if w[0] <= t <= w[1]), None)
    if e["type"] == "invoke":
        invoked_at[e.get("value")] = t
        invoked += w is not None
    elif w is None:
        continue
    elif e["type"] == "ok":
        ok += 1
        new_ok += invoked_at.get(e.get("value"), -1) >= w[0]
    else:
        refused += 1
secs = sum(b - a for a, b in windows) / 1e9
print(f"majority-down window: ok_sends={ok} refused={refused} new_ok={new_ok} "
      f"invoked={invoked} windows={len(windows)} seconds={secs:.1f}")
PY
)" || MAJ_LINE="majority-down window: could not read the history"
    echo "$MAJ_LINE" | tee "$ART/majority.txt"
    if [[ "$MAJ_LINE" =~ new_ok=([0-9]+) ]] && [[ ${BASH_REMATCH[1]} -gt 0 ]]; then
        say "VIOLATION: sends invoked while the majority was down were acknowledged"
        MAJORITY_BAD=1
    fi
fi
if [[ "$SCENARIO" == kill-postgres ]]; then
    say "kill-postgres: $PG_OUTAGES Postgres outages, $PG_RESTARTS needed a broker restart" \
        "(groups stopped by storage errors)"
fi
if [[ -s "$ART/findings.txt" ]]; then
    echo "findings ($ART/findings.txt):"
    cat "$ART/findings.txt"
fi

if [[ $NEGATIVE -eq 1 ]]; then
    # Inverted verdict: the UNSAFE brokers append retried batches again, and the checker must
    # say so. Any other outcome means the harness cannot see duplicates.
    DUPS="$(sed -n 's/.* duplicated=\([0-9][0-9]*\) .*/\1/p' "$ART/check.txt" | head -1)"
    if [[ $CHECK_RC -eq 1 && "${DUPS:-0}" -gt 0 ]]; then
        say "negative control caught: duplicated=$DUPS"
        exit 0
    fi
    say "negative control NOT caught: checker status $CHECK_RC, duplicated=${DUPS:-?}" \
        "(workload status $WL_RC)"
    exit 1
fi
if [[ $WL_RC -ne 0 && $CHECK_RC -eq 0 ]]; then
    say "the workload failed (status $WL_RC): a clean check of its history proves nothing"
    exit 3
fi
if [[ $CHECK_RC -eq 0 && $MAJORITY_BAD -eq 1 ]]; then
    exit 1
fi
exit "$CHECK_RC"
