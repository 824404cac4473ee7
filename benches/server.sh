# Sourced by the bench scripts: start and stop `bulkcast mock-server` on a free port.
# Needs BIN (the bulkcast binary) and WORK (a scratch directory); sets URL and SERVER_PID.

start_server() { # mock-server flags...
    "$BIN" mock-server --port 0 "$@" >"$WORK/server.out" 2>/dev/null &
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
