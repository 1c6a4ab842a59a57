# Sourced by scripts/bench.sh: the Kafka-client rows (issue 14). librdkafka (confluent-kafka,
# scripts/kafka-perf.py) producing to the brokers' Kafka listeners, 100-byte records,
# acks=all, idempotent, 256 records in flight and unbounded, BENCH_SECS each, next to the
# sdk's `producer perf` rows on the same topic. confluent-kafka lives in a venv under
# .cache/kafka-venv (created when missing; python3-venv from Debian as root if needed).
#   BENCH_KAFKA=0        skip them
#   BENCH_ONLY=kafka     only them and the sdk rows they are compared with

KAFKA_VENV="$ROOT/.cache/kafka-venv"

kafka_prepare() {
    if "$KAFKA_VENV/bin/python3" -c 'import confluent_kafka' 2>/dev/null; then return 0; fi
    say "creating $KAFKA_VENV with confluent-kafka (pip)"
    if ! python3 -m venv "$KAFKA_VENV" >/dev/null 2>&1; then
        [[ "$(id -u)" == 0 ]] || die "python3 -m venv failed: install python3-venv"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$KAFKA_VENV"
    fi
    "$KAFKA_VENV/bin/pip" install -q 'confluent-kafka>=2.3' || die "pip install confluent-kafka failed"
}

# librdkafka properties of the bench cluster's Kafka listeners, as JSON.
kafka_props() {
    local bs="127.0.0.1:$KAFKA_PORT_BASE,127.0.0.1:$((KAFKA_PORT_BASE + 1)),127.0.0.1:$((KAFKA_PORT_BASE + 2))"
    if [[ -n "${RAFTBUS_CA_CERT:-}" ]]; then
        jq -cn --arg bs "$bs" --arg ca "$RAFTBUS_CA_CERT" --arg t "${RAFTBUS_TOKEN:-}" \
            '{"bootstrap.servers": $bs, "security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN",
              "sasl.username": "admin", "sasl.password": $t, "ssl.ca.location": $ca}'
    else
        jq -cn --arg bs "$bs" '{"bootstrap.servers": $bs}'
    fi
}

# The Kafka rows on topic TOPIC (already created and led); results in K_PUB256, K_PUBMAX.
bench_kafka_rows() { # LOG-DIR TOPIC
    local d="$1" props="$1/kafka-props.json"
    # A file, not an argument: the token stays out of logs and `ps`.
    (umask 077; kafka_props >"$props")
    say "kafka: librdkafka producing to the Kafka listeners"
    run_client "$d/kafka-w256.log" "$KAFKA_VENV/bin/python3" "$ROOT/scripts/kafka-perf.py" \
        "$props" "$2" "$SECS" "$SIZE" 256
    K_PUB256="$(result_of "$d/kafka-w256.log")"
    run_client "$d/kafka-unbounded.log" "$KAFKA_VENV/bin/python3" "$ROOT/scripts/kafka-perf.py" \
        "$props" "$2" "$SECS" "$SIZE" 0
    K_PUBMAX="$(result_of "$d/kafka-unbounded.log")"
}

# BENCH_ONLY=kafka: the sdk's two produce rows and the Kafka rows on one fresh topic.
bench_kafka_only() { # LOG-DIR
    local d="$1" many=$((SECS * 400000))
    create_topic bench 6
    wait_leaders bench 6
    local perf=("$BIN_DIR/producer" perf --bootstrap "$BOOTSTRAP" --topic bench --record-size "$SIZE")
    run_client "$d/produce-w256.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS" --window 256
    R_PUB256="$(result_of "$d/produce-w256.log")"
    run_client "$d/produce-unbounded.log" "${perf[@]}" --num-records "$many" --duration-secs "$SECS"
    R_PUBMAX="$(result_of "$d/produce-unbounded.log")"
    bench_kafka_rows "$d" bench
}

print_kafka_table() {
    echo
    echo "Kafka clients: ${SIZE}-byte records, 6 partitions, RF 3, acks=all, ${SECS} s per row, ${R_SECURITY:-}"
    echo
    echo "| producer | rec/s | MB/s | latency | failed |"
    echo "|---|---|---|---|---|"
    local row name var r
    for row in "sdk, 256 in flight:R_PUB256" "librdkafka via Kafka, 256 in flight:K_PUB256" \
        "sdk, unbounded:R_PUBMAX" "librdkafka via Kafka, unbounded:K_PUBMAX"; do
        name="${row%%:*}" var="${row##*:}"
        r="${!var:-}"
        printf '| %s | %s | %s | %s | %s |\n' "$name" "$(rate_cell "$r")" "$(field "$r" mb_per_s)" \
            "$(lat_cell "$r")" "$(field "$r" failed)"
    done
    echo
    echo "Reproduce: BENCH_ONLY=kafka BENCH_SECS=${SECS} scripts/bench.sh"
}
