#!/usr/bin/env bash
# Crash test against the Docker cluster: a recorded workload runs while nodes are killed with
# `docker kill` (SIGKILL), then every node is restarted, the workload reads everything back, and
# raftbus-check judges the history.
#
#   scripts/crash-test.sh [--seed N] [--duration SECS] [--kill-every SECS] [--scenario NAME] [--keep]
#
#   --seed N          seeds the fault schedule (bash RANDOM); default: the current time
#   --duration SECS   how long the workload produces (300); faults stop 15 s before its end
#   --kill-every SECS pause between faults (12)
#   --scenario NAME   random (default: one broker or manager down at a time, for 3-6 s);
#                     majority, all-brokers, pause-leader, isolate-leader, kill-postgres are
#                     reserved and not implemented yet
#   --keep            leave the cluster running afterwards
#
# Artifacts (history, checker output, fault schedule, `docker logs` of every container) go to
# target/crash/<UTC timestamp>/. Exit status: the checker's (0 clean, 1 violations, 2 history
# unreadable), or 3 when the harness itself failed (cluster, topic, workload).
# Environment: RAFTBUS_NO_BUILD=1 skips `cargo build` and `scripts/docker.sh build`;
# RAFTBUS_BIN_DIR (target/release) holds manager, raftbus-workload and raftbus-check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${RAFTBUS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
DOCKER_SH="$ROOT/scripts/docker.sh"
TOPIC=crash
PARTITIONS=6
# Faults stop this long before the workload's end, so the last outage heals while it still
# produces and its final read sees a healthy cluster.
HEAL_MARGIN=15
# The workload's own bounds: delivery timeout 30 s + 15 s grace, final read 60 s; plus slack.
WORKLOAD_TAIL=180
BROKERS=(broker-1 broker-2 broker-3)
MANAGERS=(manager-1 manager-2 manager-3)
VICTIMS=("${BROKERS[@]}" "${MANAGERS[@]}")
ALL=("${VICTIMS[@]}" pg-broker-1 pg-broker-2 pg-broker-3 pg-manager-1 pg-manager-2 pg-manager-3)

SEED="$(date +%s)"
DURATION=300
KILL_EVERY=12
SCENARIO=random
KEEP=0

die() { echo "crash-test.sh: error: $*" >&2; exit 3; }
say() { echo "crash-test.sh: $(date -u +%H:%M:%S) $*"; }
usage() { sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
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
        --keep) KEEP=1; shift ;;
        -h | --help) usage ;;
        *) echo "crash-test.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$SCENARIO" in
    random) ;;
    majority | all-brokers | pause-leader | isolate-leader | kill-postgres)
        echo "crash-test.sh: scenario '$SCENARIO' is not implemented yet (only 'random' is)" >&2
        exit 2 ;;
    *) echo "crash-test.sh: unknown scenario '$SCENARIO'" >&2; usage ;;
esac
[[ "$DURATION" -gt "$HEAL_MARGIN" ]] || die "--duration must exceed $HEAL_MARGIN s"
[[ "$KILL_EVERY" -ge 1 ]] || die "--kill-every must be at least 1"
[[ -x "$DOCKER_SH" ]] || die "$DOCKER_SH is missing or not executable"
RANDOM=$SEED

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
ART="$ROOT/target/crash/$STAMP"
RUN_ID="s$SEED-$STAMP"
mkdir -p "$ART/logs"
printf 'seed=%s duration=%s kill_every=%s scenario=%s run_id=%s\n' \
    "$SEED" "$DURATION" "$KILL_EVERY" "$SCENARIO" "$RUN_ID" | tee "$ART/params"

# ---- Cleanup: always collect logs, heal, and take the cluster down unless --keep ----------
WL_PID=""
CLUSTER_UP=0
CLEANED=0
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
        collect_logs
        if [[ $KEEP -eq 1 ]]; then
            say "--keep: cluster left running; scripts/docker.sh down removes it"
        else
            timeout 300 "$DOCKER_SH" down >"$ART/docker-down.log" 2>&1 || say "docker.sh down failed"
        fi
    fi
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

# ---- Build, start the cluster, create the topic --------------------------------------------
if [[ "${RAFTBUS_NO_BUILD:-0}" != 1 ]]; then
    say "building release binaries and images"
    (cd "$ROOT" && cargo build --release -p raftbus-manager -p raftbus-crashtest) \
        || die "cargo build failed"
    timeout 1800 "$DOCKER_SH" build || die "scripts/docker.sh build failed"
fi
for b in manager raftbus-workload raftbus-check; do
    [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b not found (build it or set RAFTBUS_BIN_DIR)"
done

say "starting the cluster"
CLUSTER_UP=1
timeout 900 "$DOCKER_SH" up >"$ART/docker-up.log" 2>&1 \
    || { tail -20 "$ART/docker-up.log" >&2; die "scripts/docker.sh up failed"; }
EXPORT_LINE="$(grep -E '^export RAFTBUS_BOOTSTRAP=' "$ART/docker-up.log" | tail -1 || true)"
[[ -n "$EXPORT_LINE" ]] || die "scripts/docker.sh up printed no 'export RAFTBUS_BOOTSTRAP=' line"
# Parsed, not eval'ed: only the value is taken from the other script's output.
RAFTBUS_BOOTSTRAP="${EXPORT_LINE#export RAFTBUS_BOOTSTRAP=}"
RAFTBUS_BOOTSTRAP=${RAFTBUS_BOOTSTRAP//[\"\']/}
export RAFTBUS_BOOTSTRAP
[[ -n "${RAFTBUS_BOOTSTRAP:-}" ]] || die "RAFTBUS_BOOTSTRAP is empty"
for c in "${ALL[@]}"; do running "$c" || die "container $c is not running after up"; done
say "cluster up, bootstrap $RAFTBUS_BOOTSTRAP"

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
    <"$FIFO" >"$ART/workload.log" 2>&1 &
WL_PID=$!
exec 3>"$FIFO" # opens once the workload opened its end; keeps the FIFO open until the end
STARTED=$SECONDS
say "workload running (pid $WL_PID, run id $RUN_ID)"

# ---- Fault phase: one victim at a time ------------------------------------------------------
FAULT_END=$((STARTED + DURATION - HEAL_MARGIN))
while kill -0 "$WL_PID" 2>/dev/null; do
    # Room for the pause, the longest outage (6 s) and the restart before FAULT_END.
    left=$((FAULT_END - SECONDS))
    [[ $left -gt $((KILL_EVERY + 6)) ]] || break
    sleep "$KILL_EVERY"
    victim="${VICTIMS[RANDOM % ${#VICTIMS[@]}]}"
    down_for=$((3 + RANDOM % 4))
    say "kill $victim for $down_for s"
    timeout 30 docker kill "$victim" >/dev/null || say "docker kill $victim failed"
    nemesis start kill "$victim"
    sleep "$down_for"
    start_container "$victim"
    nemesis end kill "$victim"
done

# ---- Heal, let the workload finish and read everything back --------------------------------
say "healing: starting anything that is down"
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
if [[ $WL_RC -ne 0 && $CHECK_RC -eq 0 ]]; then
    say "the workload failed (status $WL_RC): a clean check of its history proves nothing"
    exit 3
fi
exit "$CHECK_RC"
