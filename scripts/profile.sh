# Sourced by scripts/docker.sh and scripts/crash-test.sh (ROOT set): which cargo profile's
# binaries they build and use. RAFTBUS_PROFILE=release (the default) or debug (what
# scripts/test.sh uses: the suite has built target/debug already, a release build would add
# minutes of compiling). Sets PROFILE, CARGO_PROFILE (cargo's flags) and BIN_DIR.
PROFILE="${RAFTBUS_PROFILE:-release}"
case "$PROFILE" in
    release) CARGO_PROFILE=(--release) ;;
    debug) CARGO_PROFILE=() ;;
    *) echo "RAFTBUS_PROFILE must be release or debug, not '$PROFILE'" >&2; exit 2 ;;
esac
BIN_DIR="${RAFTBUS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE}"
