# Sourced by the bench scripts from the repository's top: builds the release binary (BIN; or
# measures the one BIN names, e.g. an earlier build to compare with), makes a scratch directory
# (WORK) removed on exit with any server still running, and starts and stops
# `bulkcast mock-server` on a free port (URL, SERVER_PID).

if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$PWD/target/release/bulkcast
fi
WORK=$(mktemp -d)
# What bulkcast remembers between runs (its ledger) stays in the scratch directory.
export BULKCAST_STATE_DIR=$WORK/state
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() { # mock-server flags... (PORT=N: that port, not a free one)
    "$BIN" mock-server --port "${PORT:-0}" "$@" >"$WORK/server.out" 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 100); do
        URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
        [ -n "$URL" ] && return
        sleep 0.05
    done
    echo "mock-server did not start" >&2
    exit 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
