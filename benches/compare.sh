#!/usr/bin/env bash
# Measure bulkcast against its performance targets, in one run, from a fresh clone:
#
#   1. `bulkcast validate` on a generated file of ROWS rows (default 1,000,000):
#      wall time and peak memory (/usr/bin/time -v).
#   2. `bulkcast submit --rate 0` rows/s against `bulkcast mock-server` (no rate limit, no
#      latency), beside `wrk` POSTing the same body to the same server at the same concurrency
#      (the ceiling: what the server can take). Interleaved, REPEAT times, medians compared.
#   3. `bulkcast submit --rate 0 --concurrency 32` against a server adding 50 ms to every reply,
#      against the ideal 32 / 0.05 s = 640 rows/s.
#   4. `bulkcast submit` peak memory on 10,000 rows and on ROWS rows.
#   5. `bulkcast submit --resume` peak memory over the ROWS-row results of step 4.
#
# Usage: benches/compare.sh [ROWS]     (env: CONCURRENCY=32 REPEAT=5 SUBMIT_ROWS=100000)
# Installs wrk and GNU time from the system's packages if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
CONCURRENCY=${CONCURRENCY:-32}
REPEAT=${REPEAT:-5}
SUBMIT_ROWS=${SUBMIT_ROWS:-100000}
LATENCY_ROWS=${LATENCY_ROWS:-10000}

need() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }
if ! need wrk /usr/bin/wrk || ! [ -x /usr/bin/time ]; then
    echo "installing wrk and time from the system's packages..." >&2
    (apt-get install -y wrk time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk time >/dev/null; })
fi

. benches/server.sh

# A sheet of N rows, as a planning team would export it.
sheet() {
    awk -v n="$1" 'BEGIN {
        print "name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus"
        for (i = 0; i < n; i++)
            printf "Diwali offer %d - Pune,Festive offer reminder for Pune leads batch %d,%d,ivr||7926,%d,%d,5;10,+91 80 6900 %04d,%d,2026-12-%02d 09:00,2026-12-%02d 18:00:00,%d,1;2;3;4;5,\"[1, 3]\"\n", i, i, 214000 + i % 5000, 40 + i % 20, 1 + i % 8, i % 10000, i % 6, 1 + i % 28, 1 + i % 28, 1234 + i % 3
    }'
}


# Peak RSS (MB) and wall seconds of a command, from GNU time.
timed() { # out-prefix command...
    local prefix=$1; shift
    /usr/bin/time -v "$@" 2>"$WORK/$prefix.time" >/dev/null || true
    awk '/Maximum resident/ {printf "%.1f", $6 / 1024}' "$WORK/$prefix.time" >"$WORK/$prefix.rss"
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s}' "$WORK/$prefix.time" >"$WORK/$prefix.wall"
}

rows_per_second() { sed -n 's/.*"rows_per_second": \([0-9.]*\).*/\1/p' "$1" | cut -d. -f1; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

submit_cmd() { # rows-file results-name concurrency: the command line, one word per line
    rm -f "$WORK/$2.csv" "$WORK/$2.json"
    # Each submission is a run of its own: a ledger of its own, so a server restarted on a port
    # used before is never taken for an account that already holds these names.
    printf '%s\n' env SMARTFLO_API_TOKEN=mock-token BULKCAST_STATE_DIR="$WORK/state-$2" "$BIN" -q submit "$1" --base-url "$URL" --rate 0 \
        --concurrency "$3" -o "$WORK/$2.csv" --summary-json "$WORK/$2.json"
}
submit() { local cmd; mapfile -t cmd < <(submit_cmd "$@"); "${cmd[@]}"; }

echo "generating $ROWS rows..." >&2
sheet "$ROWS" >"$WORK/big.in.csv"
head -n $((SUBMIT_ROWS + 1)) "$WORK/big.in.csv" >"$WORK/submit.in.csv"
head -n $((LATENCY_ROWS + 1)) "$WORK/big.in.csv" >"$WORK/latency.in.csv"
head -n 10001 "$WORK/big.in.csv" >"$WORK/10k.in.csv"

# 1. validate, REPEAT times: the median wall time, the largest peak memory
: >"$WORK/validate.walls"
: >"$WORK/validate.rsss"
for i in $(seq "$REPEAT"); do
    echo "validate: $ROWS rows, round $i/$REPEAT..." >&2
    timed validate "$BIN" validate "$WORK/big.in.csv" -o /dev/null
    cat "$WORK/validate.wall" >>"$WORK/validate.walls"; echo >>"$WORK/validate.walls"
    cat "$WORK/validate.rss" >>"$WORK/validate.rsss"; echo >>"$WORK/validate.rsss"
done
VALIDATE_WALL=$(median <"$WORK/validate.walls")
VALIDATE_RSS=$(sort -n "$WORK/validate.rsss" | tail -1)

# 2. throughput against the ceiling, interleaved
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer mock-token"
wrk.body = '{"name":"Diwali offer 1 - Pune","description":"Festive offer reminder for Pune leads batch 1","phone_number_list":214001,"destination":"ivr||7926","timeout":"41","concurrent_limit":"2","retry_after_minutes":[5,10],"caller_id_number":"+918069000001","number_of_retry":"1","start_date_time":"2026-12-02 09:00:00","end_date_time":"2026-12-02 18:00:00","time_group":"1235","dialstatus":[1,2,3,4,5],"retry_dialstatus":[1,3]}'
LUA
: >"$WORK/bulkcast.rates"
: >"$WORK/wrk.rates"
for i in $(seq "$REPEAT"); do
    echo "throughput, round $i/$REPEAT: bulkcast submit $SUBMIT_ROWS rows, then wrk..." >&2
    start_server
    submit "$WORK/submit.in.csv" "run$i" "$CONCURRENCY"
    rows_per_second "$WORK/run$i.json" >>"$WORK/bulkcast.rates"
    stop_server
    start_server
    wrk -t1 -c"$CONCURRENCY" -d10s -s "$WORK/post.lua" "$URL/v1/broadcast" |
        awk '/Requests\/sec/ {printf "%d\n", $2}' >>"$WORK/wrk.rates"
    stop_server
done
BULKCAST_RATE=$(median <"$WORK/bulkcast.rates")
WRK_RATE=$(median <"$WORK/wrk.rates")

# 3. 50 ms of server latency at concurrency 32
echo "latency: $LATENCY_ROWS rows against 50 ms replies..." >&2
start_server --latency 50ms
submit "$WORK/latency.in.csv" latency 32
LATENCY_RATE=$(rows_per_second "$WORK/latency.json")
stop_server

# 4. memory of submit, small and large input
echo "memory: submit 10,000 rows, then $ROWS rows..." >&2
start_server
mapfile -t CMD < <(submit_cmd "$WORK/10k.in.csv" small "$CONCURRENCY")
timed small "${CMD[@]}"
stop_server
start_server
mapfile -t CMD < <(submit_cmd "$WORK/big.in.csv" large "$CONCURRENCY")
timed large "${CMD[@]}"
# 5. resuming over a complete record of ROWS rows
echo "memory: submit --resume over $ROWS recorded rows..." >&2
timed resume env SMARTFLO_API_TOKEN=mock-token BULKCAST_STATE_DIR="$WORK/state-large" "$BIN" -q submit "$WORK/big.in.csv" --base-url "$URL" \
    --rate 0 -o "$WORK/large.csv" --resume
stop_server
SMALL_RSS=$(cat "$WORK/small.rss")
LARGE_RSS=$(cat "$WORK/large.rss")
RESUME_RSS=$(cat "$WORK/resume.rss")

verdict() { awk -v ok="$1" 'BEGIN {print (ok ? "met" : "MISSED")}'; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "cpu steal during the run shows as 'st' in top; on a shared VM expect wall times to vary"
printf '%-58s %-22s %-16s %s\n' "measure" "result" "target" "verdict"
printf '%-58s %-22s %-16s %s\n' "validate $ROWS rows: wall time (median of $REPEAT)" "${VALIDATE_WALL} s" "< 1.5 s" "$(verdict "$(awk -v w="$VALIDATE_WALL" 'BEGIN {print (w < 1.5)}')")"
printf '%-58s %-22s %-16s %s\n' "validate $ROWS rows: peak memory" "${VALIDATE_RSS} MB" "< 64 MB" "$(verdict "$(awk -v m="$VALIDATE_RSS" 'BEGIN {print (m < 64)}')")"
printf '%-58s %-22s %-16s %s\n' "submit --rate 0, c=$CONCURRENCY, vs wrk (medians of $REPEAT)" "$BULKCAST_RATE vs $WRK_RATE req/s" ">= 70%" "$(awk -v a="$BULKCAST_RATE" -v b="$WRK_RATE" 'BEGIN {printf "%.0f%% ", 100 * a / b}')$(verdict "$(awk -v a="$BULKCAST_RATE" -v b="$WRK_RATE" 'BEGIN {print (a >= 0.7 * b)}')")"
printf '%-58s %-22s %-16s %s\n' "submit, 50 ms latency, c=32, vs ideal 640 rows/s" "$LATENCY_RATE rows/s" ">= 85%" "$(awk -v a="$LATENCY_RATE" 'BEGIN {printf "%.0f%% ", 100 * a / 640}')$(verdict "$(awk -v a="$LATENCY_RATE" 'BEGIN {print (a >= 0.85 * 640)}')")"
printf '%-58s %-22s %-16s %s\n' "submit peak memory, 10k rows vs $ROWS rows" "$SMALL_RSS vs $LARGE_RSS MB" "within 1.5x" "$(verdict "$(awk -v a="$SMALL_RSS" -v b="$LARGE_RSS" 'BEGIN {print (b <= 1.5 * a)}')")"
printf '%-58s %-22s %-16s %s\n' "submit --resume over $ROWS recorded rows: peak memory" "${RESUME_RSS} MB" "< 64 MB" "$(verdict "$(awk -v m="$RESUME_RSS" 'BEGIN {print (m < 64)}')")"
echo "rounds: validate $(paste -sd' ' "$WORK/validate.walls") s; bulkcast $(paste -sd' ' "$WORK/bulkcast.rates"); wrk $(paste -sd' ' "$WORK/wrk.rates")"
