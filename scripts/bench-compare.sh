# shellcheck shell=bash
# `scripts/bench.sh --compare`: NATS JetStream and RabbitMQ quorum queues on loopback, driven by
# the bench/compare crate with the same workload as Raftbus. Sourced by bench.sh (uses its
# helpers: say, die, field, result_of, median, run_client, BG_PIDS, STOPPED_PIDS, BENCH_DIR,
# SECS, ROUNDS, SIZE, FREEZE_SECS).
#
# NATS: 3 servers (client ports 14222-14224, routes 16222-16224, monitoring 18222-18224), stream
# R3 with file storage and the server's default sync interval (2 min: NOT durable at ack time).
# RabbitMQ: 3 nodes rabbitN@localhost (AMQP 15701-15703, distribution 25701-25703, our own epmd
# on 14369, own Erlang cookie), quorum queues (fsync before confirm).

NATS_DIR="$BENCH_DIR/nats"
RABBIT_DIR="$BENCH_DIR/rabbitmq"
RABBIT_LIB=/usr/lib/rabbitmq/bin
COMPARE_BIN="$ROOT/target/bench-compare/release/raftbus-bench-compare"
export ERL_EPMD_PORT=14369

nats_url() { echo "nats://127.0.0.1:$((14221 + $1))"; }
rabbit_uri() { echo "amqp://guest:guest@127.0.0.1:$((15700 + $1))/%2f"; }
rabbit_node() { echo "rabbit$1@localhost"; }

# Installs the servers from Debian's packages when missing (as root, without starting the
# distribution's own service), and builds the comparison crate.
compare_prepare() {
    local missing=() created_policy=0
    command -v nats-server >/dev/null || missing+=(nats-server)
    [[ -x "$RABBIT_LIB/rabbitmq-server" ]] || missing+=(rabbitmq-server)
    if ((${#missing[@]})); then
        [[ "$(id -u)" == 0 ]] || die "missing ${missing[*]}: run 'sudo apt-get install -y --no-install-recommends ${missing[*]}'"
        say "installing ${missing[*]} with apt-get"
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then # keep the packages from starting services
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            created_policy=1
        fi
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } \
            >"$BENCH_DIR/apt.log" 2>&1 || { ((created_policy)) && rm -f /usr/sbin/policy-rc.d; die "apt-get failed: $(tail -n 3 "$BENCH_DIR/apt.log")"; }
        ((created_policy)) && rm -f /usr/sbin/policy-rc.d
    fi
    if [[ "${RAFTBUS_NO_BUILD_BENCH:-0}" != 1 ]]; then
        say "building bench/compare (async-nats, lapin)"
        cargo build --release --manifest-path "$ROOT/bench/compare/Cargo.toml" --target-dir "$ROOT/target/bench-compare" \
            >"$BENCH_DIR/build-compare.log" 2>&1 || die "bench/compare build failed: $(tail -n 5 "$BENCH_DIR/build-compare.log")"
    fi
}

# Pids of the servers we started: one file per server (restarts overwrite it).
server_pids() {
    local f
    for f in "$NATS_DIR"/*.pid "$RABBIT_DIR"/*/pid; do [[ -f "$f" ]] && echo "$(<"$f")"; done
    return 0
}

compare_cleanup() {
    local pid
    for pid in $(server_pids); do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in $(server_pids); do kill -KILL "$pid" 2>/dev/null || true; done
    rm -f "$NATS_DIR"/*.pid "$RABBIT_DIR"/*/pid
    [[ -d "$RABBIT_DIR" ]] && epmd_kill
    return 0
}

# Stops our epmd (ERL_EPMD_PORT); it refuses while it still lists a node, so retry a while.
epmd_kill() {
    local n out
    for n in $(seq 50); do
        out="$(epmd -kill 2>&1)" || true # non-zero also when there is none left to kill
        [[ "$out" == *"not allowed"* ]] || return 0
        sleep 0.1
    done
    say "could not stop epmd on port $ERL_EPMD_PORT"
}

# ---- NATS ------------------------------------------------------------------------------------
nats_start() { # I: starts server nI, its pid in $NATS_DIR/nI.pid
    local i="$1" routes="" j
    for j in 1 2 3; do ((j != i)) && routes+="${routes:+,}nats://127.0.0.1:$((16221 + j))"; done
    mkdir -p "$NATS_DIR/n$i"
    nats-server -a 127.0.0.1 -p "$((14221 + i))" -m "$((18221 + i))" -n "n$i" -js -sd "$NATS_DIR/n$i" \
        --cluster_name bench --cluster "nats://127.0.0.1:$((16221 + i))" --routes "$routes" \
        >>"$NATS_DIR/n$i.log" 2>&1 &
    echo $! >"$NATS_DIR/n$i.pid"
    disown # no "Killed" job report when the failover test kills it
}

nats_up() {
    local i deadline=$((SECONDS + 60))
    rm -rf "$NATS_DIR"
    mkdir -p "$NATS_DIR"
    for i in 1 2 3; do nats_start "$i"; done
    for i in 1 2 3; do
        until curl -fsS -m 2 "http://127.0.0.1:$((18221 + i))/healthz?js-enabled-only=true" >/dev/null 2>&1; do
            ((SECONDS < deadline)) || die "NATS n$i not healthy after 60 s (see $NATS_DIR/n$i.log)"
            sleep 0.3
        done
    done
}

nats_servers() { echo "$(nats_url 1),$(nats_url 2),$(nats_url 3)"; }

# The NATS side of bench.sh's fault_round: stream "failover", servers n1-n3.
nats_leader() {
    local name
    name="$("$COMPARE_BIN" nats-leader --servers "$(nats_servers)" --stream failover)" || return 1
    echo "${name#n}"
}
nats_pid() { echo "$(<"$NATS_DIR/n$1.pid")"; }
nats_publisher() {
    "$COMPARE_BIN" nats-publish --servers "$(nats_servers)" --subject failover.data --size "$SIZE" \
        --window 1 --duration-secs "$1" --retry
}
nats_restart() { nats_start "$1"; }
nats_ready() {
    curl -fsS -m 2 "http://127.0.0.1:$((18221 + $1))/healthz?js-enabled-only=true" >/dev/null 2>&1 &&
        nats_leader >/dev/null 2>&1
}

# `compare_workload SYS PREFIX`: the same steps as Raftbus's (publish with 256 in flight, at
# half that rate, one at a time; consume everything; failover), through `SYS_publish ARGS...`
# and `SYS_consume COUNT`; sets PREFIX_PUB256, PREFIX_HALF, PREFIX_ONE, PREFIX_CONSUME and the
# failover figures.
compare_workload() {
    local sys="$1" p="$2" d="$BENCH_DIR/logs/$1" half total=0 r v
    mkdir -p "$d"
    say "$sys: publish"
    run_client "$d/publish-w256.log" "${sys}_publish" --window 256 --duration-secs "$SECS"
    half="$(awk -v b="$(field "$(result_of "$d/publish-w256.log")" rec_per_s)" 'BEGIN { printf "%d", b / 2 }')"
    run_client "$d/publish-half.log" "${sys}_publish" --window 65536 --rate "$half" --duration-secs "$SECS"
    run_client "$d/publish-one.log" "${sys}_publish" --window 1 --duration-secs 10
    for v in w256:PUB256 half:HALF one:ONE; do
        r="$(result_of "$d/publish-${v%%:*}.log")"
        printf -v "${p}_${v#*:}" '%s' "$r"
        total=$((total + $(count_of "$r")))
    done
    say "$sys: consume"
    run_client "$d/consume.log" "${sys}_consume" "$total"
    printf -v "${p}_CONSUME" '%s' "$(result_of "$d/consume.log")"
    say "$sys: failover ($ROUNDS rounds each)"
    failover_series "$sys" "$p" "$d"
}

# Run by run_client in the background: exec, so the watchdog signals the client itself.
nats_publish() { exec "$COMPARE_BIN" nats-publish --servers "$(nats_servers)" --subject bench.data --size "$SIZE" "$@"; }
nats_consume() { exec "$COMPARE_BIN" nats-consume --servers "$(nats_servers)" --stream bench --messages "$1"; }

bench_nats() {
    local i s
    s="$(nats_servers)"
    say "nats: starting 3 JetStream servers"
    nats_up
    "$COMPARE_BIN" nats-setup --servers "$s" --stream bench --replicas 3 >/dev/null
    "$COMPARE_BIN" nats-setup --servers "$s" --stream failover --replicas 3 >/dev/null
    compare_workload nats N
    for i in 1 2 3; do kill9_wait "$(nats_pid "$i")"; done # its data is thrown away anyway
    rm -f "$NATS_DIR"/*.pid
}

# ---- RabbitMQ --------------------------------------------------------------------------------
# `rabbit_env I CMD...`: runs CMD with node I's environment (own dirs, ports, cookie in HOME).
rabbit_env() {
    local i="$1" n="$RABBIT_DIR/n$1"
    shift
    env HOME="$RABBIT_DIR/home" RABBITMQ_NODENAME="$(rabbit_node "$i")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$((15700 + i))" RABBITMQ_DIST_PORT="$((25700 + i))" \
        RABBITMQ_MNESIA_BASE="$n/mnesia" RABBITMQ_LOG_BASE="$n/log" RABBITMQ_CONFIG_FILE="$n/rabbitmq" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$n/advanced.config" RABBITMQ_CONF_ENV_FILE="$n/rabbitmq-env.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" RABBITMQ_PID_FILE="$n/pid" "$@"
}
rabbitmqctl() { # I ARGS...: rabbitmqctl against node I
    local i="$1"
    shift
    rabbit_env "$i" "$RABBIT_LIB/rabbitmqctl" -n "$(rabbit_node "$i")" "$@"
}

rabbit_launch() { # I: starts node I in the background
    rm -f "$RABBIT_DIR/n$1/pid"
    rabbit_env "$1" "$RABBIT_LIB/rabbitmq-server" >>"$RABBIT_DIR/n$1.log" 2>&1 &
    disown
}
rabbit_wait() { # I: waits (bounded) until node I runs
    rabbitmqctl "$1" wait "$RABBIT_DIR/n$1/pid" --timeout 120 >>"$RABBIT_DIR/n$1.log" 2>&1 ||
        die "RabbitMQ node $1 did not start (see $RABBIT_DIR/n$1.log)"
}
rabbit_start() { rabbit_launch "$1" && rabbit_wait "$1"; }

rabbit_up() {
    local i
    rm -rf "$RABBIT_DIR"
    mkdir -p "$RABBIT_DIR/home"
    printf 'raftbus-bench-%s' "$RANDOM$RANDOM" >"$RABBIT_DIR/home/.erlang.cookie"
    chmod 400 "$RABBIT_DIR/home/.erlang.cookie"
    printf '[].\n' >"$RABBIT_DIR/enabled_plugins"
    for i in 1 2 3; do
        mkdir -p "$RABBIT_DIR/n$i"
        printf 'listeners.tcp.default = %d\nloopback_users = none\n' "$((15700 + i))" >"$RABBIT_DIR/n$i/rabbitmq.conf"
        rabbit_launch "$i"
    done
    for i in 1 2 3; do rabbit_wait "$i"; done
    for i in 2 3; do
        { rabbitmqctl "$i" stop_app && rabbitmqctl "$i" join_cluster "$(rabbit_node 1)" && rabbitmqctl "$i" start_app; } \
            >>"$RABBIT_DIR/n$i.log" 2>&1 || die "RabbitMQ node $i could not join the cluster (see $RABBIT_DIR/n$i.log)"
    done
}

# Node index (1-3) leading quorum queue Q (default: failover), asked of each node in turn.
rabbit_leader() {
    local i out q="${1:-failover}"
    for i in 1 2 3; do
        out="$(rabbitmqctl "$i" -q list_queues name leader 2>/dev/null | awk -v q="$q" '$1 == q { print $2 }')" || continue
        [[ "$out" =~ ^rabbit([123])@ ]] && { echo "${BASH_REMATCH[1]}"; return 0; }
    done
    return 1
}

# The RabbitMQ side of bench.sh's fault_round: quorum queue "failover", nodes 1-3. The
# publisher connects to the two other nodes first, so killing the leader does not also cut its
# connection.
rabbit_pid() { echo "$(<"$RABBIT_DIR/n$1/pid")"; }
rabbit_publisher() {
    local leader i uris=""
    leader="$(rabbit_leader)" || return 1
    for i in 1 2 3; do ((i != leader)) && uris+="$(rabbit_uri "$i"),"; done
    "$COMPARE_BIN" rabbit-publish --uris "$uris$(rabbit_uri "$leader")" --queue failover --size "$SIZE" \
        --window 1 --duration-secs "$1" --retry
}
rabbit_restart() { rabbit_start "$1"; }
rabbit_ready() { # all three members online again and a leader elected
    [[ "$(rabbitmqctl "$1" -q list_queues name online 2>/dev/null |
        awk '$1 == "failover"' | grep -o 'rabbit[123]@' | sort -u | wc -l)" == 3 ]] &&
        rabbit_leader >/dev/null
}

rabbit_uris() { echo "$(rabbit_uri 1),$(rabbit_uri 2),$(rabbit_uri 3)"; }
rabbit_publish() { exec "$COMPARE_BIN" rabbit-publish --uris "$(rabbit_uris)" --queue bench --size "$SIZE" "$@"; }
rabbit_consume() { exec "$COMPARE_BIN" rabbit-consume --uris "$(rabbit_uris)" --queue bench --messages "$1"; }

bench_rabbitmq() {
    local i
    say "rabbitmq: starting a 3-node cluster"
    rabbit_up
    "$COMPARE_BIN" rabbit-setup --uris "$(rabbit_uris)" --queue bench >/dev/null
    "$COMPARE_BIN" rabbit-setup --uris "$(rabbit_uris)" --queue failover >/dev/null
    compare_workload rabbit Q
    for i in 1 2 3; do kill9_wait "$(rabbit_pid "$i")"; done # its data is thrown away anyway
    rm -f "$RABBIT_DIR"/*/pid
    epmd_kill
}
