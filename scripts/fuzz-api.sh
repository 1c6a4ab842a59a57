#!/usr/bin/env bash
# Fuzzes both HTTP client APIs with schemathesis (PyPI) against a live throwaway cluster:
# scripts/cluster.sh with its own state directory and ports (Postgres, 3 managers, 3 brokers,
# TLS and the admin token), the debug binaries, the documents the nodes serve at
# /openapi.json. Fails on any 5xx, on a response that breaks the document (status, content
# type, body schema) and on a node that died or panicked. Run by scripts/test.sh after
# `cargo build --bins`.
#
# Environment: FUZZ_EXAMPLES (examples per operation, default 30), FUZZ_SEED (schemathesis
# seed, default 1), FUZZ_DIR (cluster state, default target/fuzz-cluster), FUZZ_PORT_BASE
# (default 9280: managers on +1.., brokers on +11..), RAFTBUS_BIN_DIR (default target/debug).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.cache/venv"
EXAMPLES="${FUZZ_EXAMPLES:-30}"
SEED="${FUZZ_SEED:-1}"
BASE="${FUZZ_PORT_BASE:-9280}"
export CLUSTER_DIR="${FUZZ_DIR:-$ROOT/target/fuzz-cluster}"
export PG_PORT=$((BASE + 50))
export MANAGER_PORT_BASE=$((BASE + 1)) API_PORT_BASE=$((BASE + 11)) RAFT_PORT_BASE=$((BASE + 111))
export RAFTBUS_BIN_DIR="${RAFTBUS_BIN_DIR:-$ROOT/target/debug}" RAFTBUS_NO_BUILD=1
# Generated topics stay small: a 1,000-partition topic on debug binaries would starve the run.
export NODE_ENV="RAFTBUS_TOPICS__MAX_PARTITIONS=4"

say() { echo "fuzz-api.sh: $*"; }

# ---- schemathesis in a venv of its own (python3-venv from Debian when missing, as root) ----
if [[ ! -x "$VENV/bin/schemathesis" ]]; then
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        [[ "$(id -u)" == 0 ]] || { echo "python3 -m venv failed: install python3-venv" >&2; exit 1; }
        apt-get update -qq && apt-get install -y -qq python3-venv
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q "schemathesis>=4,<5"
fi
"$VENV/bin/schemathesis" --version

# ---- the cluster, torn down whatever happens ----
rm -rf "$CLUSTER_DIR"
cleanup() { scripts/cluster.sh down --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/cluster.sh up >"$ROOT/target/fuzz-cluster-up.log" 2>&1 || {
    tail -n 40 "$ROOT/target/fuzz-cluster-up.log" >&2
    exit 1
}
CA="$CLUSTER_DIR/pki/ca.pem"
TOKEN="$(cat "$CLUSTER_DIR/pki/admin.token")"

# One run per API. Checks: no 5xx, documented status codes and content types, bodies that
# match their schemas. Negative (invalid) inputs are generated too; they must get a 4xx.
fuzz() {
    local name="$1" url="$2"
    say "fuzzing the $name API at $url"
    "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "$url/openapi.json" \
        --url "$url" \
        --tls-verify "$CA" \
        -H "Authorization: Bearer $TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$EXAMPLES" \
        --seed "$SEED" \
        --workers 1 \
        --request-timeout 30 \
        --generation-database none \
        --no-color
}

failed=0
# Brokers first: the managers' run may delete topic "demo".
fuzz broker "https://127.0.0.1:$API_PORT_BASE" || failed=1
fuzz manager "https://127.0.0.1:$MANAGER_PORT_BASE" || failed=1

# A crash is a failure even when every response looked fine.
status="$(scripts/cluster.sh status)"
echo "$status"
if grep -q ' stopped' <<<"$status"; then
    say "a node died during the run"
    failed=1
fi
if grep -l 'panicked' "$CLUSTER_DIR"/logs/*.log 2>/dev/null; then
    grep -h -A3 'panicked' "$CLUSTER_DIR"/logs/*.log >&2
    say "a node panicked (logs above)"
    failed=1
fi
if ((failed)); then
    say "FAILED (cluster logs: $CLUSTER_DIR/logs until the next run)"
    # Keep the logs for a look: the trap stops the processes but does not purge.
    trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
    exit 1
fi
say "passed: no 5xx, no schema violation, no crash"
