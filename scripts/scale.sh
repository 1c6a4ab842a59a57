#!/usr/bin/env bash
# Thousands of partitions on one local cluster (issue 11, acceptance 5): creates TOPICS topics
# of PER_TOPIC partitions each (RF 3; a topic holds at most 1,024), reports how long until every
# partition has a leader, watches WATCH_SECS seconds that no broker is declared dead while
# recording idle CPU per process, produces and consumes on the last topic, then kill -9s broker
# 2, restarts it and reports how long until it serves (leads or follows) all its partitions.
#
#   scripts/scale.sh     (release binaries; RAFTBUS_NO_BUILD=1 uses the existing ones)
#   TOPICS=3 PER_TOPIC=1000 WATCH_SECS=300 scripts/scale.sh
#
# Runs its own cluster (state in target/scale, ports away from cluster.sh and bench.sh) and
# stops everything it started on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOPICS="${TOPICS:-3}"
PER_TOPIC="${PER_TOPIC:-1000}"
WATCH_SECS="${WATCH_SECS:-300}"
BIN_DIR="$ROOT/target/release"
export CLUSTER_DIR="$ROOT/target/scale" PG_PORT=55459 MANAGERS=3 BROKERS=3
export MANAGER_PORT_BASE=39081 API_PORT_BASE=39091 RAFT_PORT_BASE=39191
export RAFTBUS_BIN_DIR="$BIN_DIR"
BOOTSTRAP="127.0.0.1:39081,127.0.0.1:39082,127.0.0.1:39083"
say() { echo "scale.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
command -v jq >/dev/null || apt-get install -y jq >/dev/null 2>&1 || die "jq is needed"

if [[ "${RAFTBUS_NO_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release --bins) || die "build failed"
fi
export RAFTBUS_NO_BUILD=1
cleanup() { "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$ROOT/scripts/cluster.sh" down --purge >/dev/null 2>&1 || true # a fresh cluster every run
mkdir -p "$CLUSTER_DIR"
"$ROOT/scripts/cluster.sh" up >"$CLUSTER_DIR/up.log" 2>&1 || die "cluster start failed"
# The cluster is secure: the CLIs and curl trust its CA and send the admin token (in a header
# file, not on the command line).
export RAFTBUS_CA_CERT="$CLUSTER_DIR/pki/ca.pem"
RAFTBUS_TOKEN="$(cat "$CLUSTER_DIR/pki/admin.token")"
export RAFTBUS_TOKEN
AUTH_HEADER="$CLUSTER_DIR/auth.header"
(umask 077; printf 'Authorization: Bearer %s\n' "$RAFTBUS_TOKEN" >"$AUTH_HEADER")
rb_curl() { curl --cacert "$RAFTBUS_CA_CERT" -H "@$AUTH_HEADER" "$@"; }
manager() { "$BIN_DIR/manager" --bootstrap "$BOOTSTRAP" "$@"; }

# Partitions (of any topic) a broker reports, by role; "all" counts every hosted replica.
count() { # BROKER_INDEX ROLE|all
    rb_curl -fsS -m 5 "https://127.0.0.1:$((API_PORT_BASE + $1 - 1))/v1/partitions" 2>/dev/null |
        jq --arg r "$2" '[.[] | select(.topic | startswith("scale")) | select($r == "all" or .role == $r)] | length' 2>/dev/null ||
        echo 0
}
leaders() { echo $(($(count 1 leader) + $(count 2 leader) + $(count 3 leader))); }
total=$((TOPICS * PER_TOPIC))

start=$SECONDS
for ((t = 1; t <= TOPICS; t++)); do
    manager topic create "scale$t" --partitions "$PER_TOPIC" --replication-factor 3 --wait-ms 0 >/dev/null ||
        die "creating scale$t failed"
done
say "create requests for $total partitions answered after $((SECONDS - start)) s"
deadline=$((SECONDS + 900))
while (($(leaders) < total)); do
    ((SECONDS < deadline)) || die "only $(leaders) of $total partitions led after 900 s"
    sleep 2
done
echo "CREATED partitions=$total all_led_after_s=$((SECONDS - start))"

# Idle CPU per process over the watch window, and liveness as the managers see it.
declare -A pids ticks
for f in "$CLUSTER_DIR"/run/*.pid; do pids[$(basename "$f" .pid)]="$(head -n 1 "$f")"; done
pgpid="$(head -n 1 "$(find "$CLUSTER_DIR/pg" -name postmaster.pid | head -n 1)" 2>/dev/null || true)"
[[ -n "$pgpid" ]] && pids[postgres]="$pgpid"
cpu() { # PID: utime+stime of it (and, for postgres, its children) in clock ticks
    local all="$1"
    [[ "$1" == "$pgpid" ]] && all="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    local sum=0 p
    for p in $all; do
        [[ -r /proc/$p/stat ]] && sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$sum"
}
for n in "${!pids[@]}"; do ticks[$n]="$(cpu "${pids[$n]}")"; done
watch_start=$SECONDS
dead_seen=0
while ((SECONDS - watch_start < WATCH_SECS)); do
    dead="$(rb_curl -fsS -m 5 "https://127.0.0.1:39081/v1/brokers" | jq '[.[] | select(.alive | not)] | length')"
    ((dead == 0)) || { dead_seen=1; say "a broker is declared dead: $(rb_curl -fsS https://127.0.0.1:39081/v1/brokers)"; }
    sleep 5
done
hz="$(getconf CLK_TCK)"
for n in $(printf '%s\n' "${!pids[@]}" | sort); do
    used=$(($(cpu "${pids[$n]}") - ticks[$n]))
    echo "IDLE_CPU process=$n percent_of_one_core=$(awk -v u="$used" -v hz="$hz" -v s="$WATCH_SECS" 'BEGIN { printf "%.1f", 100 * u / hz / s }')"
done
echo "WATCH secs=$WATCH_SECS broker_declared_dead=$dead_seen"

# Produce and consume still work.
"$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" --topic "scale$TOPICS" --record-size 100 \
    --num-records 20000 --duration-secs 20 --window 256 2>&1 | grep RESULT | sed 's/^/PRODUCE /'
"$BIN_DIR/consumer" perf --bootstrap "$BOOTSTRAP" --topic "scale$TOPICS" --group scale-check \
    --messages 20000 --timeout-ms 60000 2>&1 | grep RESULT | sed 's/^/CONSUME /'

# kill -9 of broker 2, restart, time until it reports every replica it hosts as led or
# followed (none stopped or candidate).
hosted="$(count 2 all)"
"$ROOT/scripts/cluster.sh" kill broker-2 >/dev/null
"$ROOT/scripts/cluster.sh" start broker-2 >/dev/null
restart=$SECONDS
deadline=$((SECONDS + 600))
while :; do
    serving=$(($(count 2 leader) + $(count 2 follower)))
    ((serving >= hosted)) && break
    ((SECONDS < deadline)) || die "broker 2 serves only $serving of $hosted replicas 600 s after its restart"
    sleep 1
done
echo "RESTART broker=2 replicas=$hosted serving_after_s=$((SECONDS - restart))"
