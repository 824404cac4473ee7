#!/usr/bin/env bash
# Peak memory of a --resume over ROWS recorded rows (default 1,000,000) whose line 2 is sent
# again into a server that answers 503 to every create: line 2 sits in back-off while every
# other row is decided without sending. The reorder buffer is bounded (engine/run.rs, WINDOW),
# so memory stays that of any resume (target: < 64 MB).
#
# Usage: benches/backoff.sh [ROWS]   (BIN=path measures another build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
. benches/server.sh

awk -v n="$ROWS" 'BEGIN {
    print "name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus"
    for (i = 0; i < n; i++)
        printf "Diwali offer %d - Pune,Festive offer reminder for Pune leads batch %d,%d,ivr||7926,%d,%d,5;10,+91 80 6900 %04d,%d,2026-12-%02d 09:00,2026-12-%02d 18:00:00,%d,1;2;3;4;5,\"[1, 3]\"\n", i, i, 214000 + i % 5000, 40 + i % 20, 1 + i % 8, i % 10000, i % 6, 1 + i % 28, 1 + i % 28, 1234 + i % 3
}' >"$WORK/big.csv"

echo "a complete run of $ROWS rows..." >&2
start_server
port=${URL##*:}
SMARTFLO_API_TOKEN=mock-token "$BIN" -q submit "$WORK/big.csv" --base-url "$URL" --rate 0 -o "$WORK/r.csv"
stop_server
# Line 2 recorded as failed: a resume sends it again.
python3 - "$WORK/r.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
rows[1][2], rows[1][3] = 'false', 'failed'
csv.writer(open(sys.argv[1], 'w', newline='')).writerows(rows)
PY
echo "the resume, every create answered 503..." >&2
PORT=$port start_server --fail-5xx 1.0
SMARTFLO_API_TOKEN=mock-token /usr/bin/time -f "%e s %M KB" "$BIN" -q submit "$WORK/big.csv" \
    --base-url "$URL" --rate 0 --max-retries 6 -o "$WORK/r.csv" --resume 2>"$WORK/time" || true
stop_server
awk '{printf "resume of %s rows with line 2 in back-off: %s s, peak %.1f MB\n", "'"$ROWS"'", $1, $3 / 1024}' <(tail -1 "$WORK/time")
