#!/usr/bin/env bash
# Measure the pace bulkcast holds against a rate-limited account (issue 15's targets), on the
# built-in simulation (`bulkcast mock-server`: a fixed one-second-window limit, 300 ms latency,
# transit jitter before the limiter). Creates are counted by the server, sampled twice a second.
#
#   1. limit 5/s, 0-300 ms jitter, `--rate 5`: creates/s while sending, 429s as a share.
#   2. the same with no jitter: exactness unchanged (target >= 99% of the limit, no 429).
#   3. two runs of SHARED rows (default 100) at once on one 5/s account, 100 ms latency, 0-100
#      ms jitter, both `--rate 5` and then both `--rate auto`: the server's creates/s from the
#      first create to the last of either, 429s as a share of both runs' requests, and every row
#      exactly once (issue 23's measure).
#   4. `--rate auto` against a 5/s account, 0-100 ms jitter: the server's creates/s from 15 s
#      after the start to the end of sending, and what the summary says it found.
#   5. `--rate auto` again on the same account: creates/s in its first 10 s, started from the
#      pace the ledger remembered from 4.
#
# Usage: benches/pace.sh [ROWS]    (rows a run; default 300, i.e. about a minute a run at 5/s)
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-300}
LIMIT=5

. benches/server.sh

sheet() { # rows name-prefix
    awk -v n="$1" -v p="$2" 'BEGIN {
        print "name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus"
        for (i = 0; i < n; i++)
            printf "%s offer %d,Festive offer reminder batch %d,%d,ivr||7926,40,2,5;10,+91 80 6900 %04d,1,2026-12-%02d 09:00,2026-12-%02d 18:00:00,1234,1;2;3;4;5,\"[1, 3]\"\n", p, i, i, 214000 + i, i, 1 + i % 28, 1 + i % 28
    }'
}

stat() { curl -s "$URL/__mock/stats" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
field() { sed -n "s/.*\"$2\": \([0-9.a-z\"]*\).*/\1/p" "$1" | tr -d '"'; }

# Run bulkcast on each sheet at once (`submit SHEET... -- FLAGS...`), sampling the server's
# created count twice a second as "seconds-since-start created runs-still-going".
submit() {
    local sheets=() pids=()
    while [ "$1" != -- ]; do sheets+=("$1"); shift; done
    shift
    : >"$WORK/samples"
    local t0
    t0=$(date +%s.%N)
    for s in "${sheets[@]}"; do
        SMARTFLO_API_TOKEN=mock-token "$BIN" -q submit "$s" --base-url "$URL" "$@" \
            -o "${s%.csv}.results.csv" --summary-json "${s%.csv}.json" &
        pids+=($!)
    done
    while :; do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
        echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.2f", a - b}') $(stat created) $alive" >>"$WORK/samples"
        [ "$alive" -eq 0 ] && break
        sleep 0.5
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
}

# Creates per second between the first sample at or after FROM with at least ALIVE runs going
# and the last such sample.
slope() { # from alive
    awk -v from="$1" -v alive="$2" '$1 >= from && $3 >= alive {if (!n++) {t0 = $1; c0 = $2}; t1 = $1; c1 = $2}
        END {if (t1 > t0) printf "%.2f", (c1 - c0) / (t1 - t0); else print "n/a"}' "$WORK/samples"
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f%%", 100 * a / b}'; }
verdict() { awk -v ok="$1" 'BEGIN {print (ok ? "met" : "MISSED")}'; }
row() { printf '%-64s %-34s %-22s %s\n' "$@"; }

row "measure" "result" "target" "verdict"

# 1 and 2: one run, with and without jitter
for jitter in 300ms 0ms; do
    echo "one run, $ROWS rows, --rate $LIMIT, jitter 0-$jitter..." >&2
    solo=$WORK/solo-$jitter.csv
    sheet "$ROWS" "Solo $jitter" >"$solo"
    start_server --rate-limit "$LIMIT" --latency 300ms --jitter "$jitter"
    submit "$solo" -- --rate "$LIMIT"
    created=$(stat created); tmr=$(stat too_many_requests); dupes=$(curl -s "$URL/__mock/stats" | grep -o '"duplicates":{[^}]*}')
    stop_server
    cps=$(printf '%.2f' "$(field "${solo%.csv}.json" creates_per_second)"); req=$(field "${solo%.csv}.json" requests)
    share=$(awk -v t="$tmr" -v r="$req" 'BEGIN {printf "%.1f", 100 * t / r}')
    if [ "$jitter" = 0ms ]; then
        ok=$(awk -v c="$cps" -v t="$tmr" 'BEGIN {print (c >= 0.99 * 5 && t == 0)}'); target=">= 99%, no 429"
    else
        ok=$(awk -v c="$cps" -v s="$share" 'BEGIN {print (c >= 0.9 * 5 && s <= 5)}'); target=">= 90%, 429s <= 5%"
    fi
    row "1 run, --rate $LIMIT, jitter 0-$jitter: creates/s, 429s" "$cps/s = $(pct "$cps" "$LIMIT"), $tmr of $req = $share%" "$target" "$(verdict "$ok")"
    row "  created $created of $ROWS, $dupes" "settled $(field "${solo%.csv}.json" rate_settled), cuts $(field "${solo%.csv}.json" rate_cuts)" "" ""
done

# 3: two runs sharing one account (issue 23's measure): 100 ms latency, 0-100 ms jitter, both
# --rate 5, then both --rate auto; SHARED rows each. From the first create to the last of
# either, as the server counted them; 429s as a share of both runs' requests; every row once.
SHARED=${SHARED:-100}
for rate in "$LIMIT" auto; do
    echo "two runs of $SHARED rows at once, both --rate $rate, latency 100ms, jitter 0-100ms..." >&2
    a=$WORK/a-$rate.csv b=$WORK/b-$rate.csv
    sheet "$SHARED" "Team A $rate" >"$a"
    sheet "$SHARED" "Team B $rate" >"$b"
    rm -rf "$BULKCAST_STATE_DIR" # nothing remembered from the runs before
    start_server --rate-limit "$LIMIT" --latency 100ms --jitter 100ms
    submit "$a" "$b" -- --rate "$rate"
    created=$(stat created); tmr=$(stat too_many_requests); dupes=$(curl -s "$URL/__mock/stats" | grep -o '"duplicates":{[^}]*}')
    stop_server
    req=$(( $(field "${a%.csv}.json" requests) + $(field "${b%.csv}.json" requests) ))
    share=$(awk -v t="$tmr" -v r="$req" 'BEGIN {printf "%.1f", 100 * t / r}')
    whole=$(awk '$2 > 0 && !t0 {t0 = $1; c0 = $2} {t1 = $1; c = $2} END {printf "%.2f", (c - c0) / (t1 - t0)}' "$WORK/samples")
    ok=$(awk -v c="$whole" -v s="$share" -v n="$created" -v want=$((2 * SHARED)) -v d="$dupes" 'BEGIN {print (c >= 0.9 * 5 && s <= 5 && n == want && d == "\"duplicates\":{}")}')
    row "2 runs, both --rate $rate: together, first create to last" "$whole/s = $(pct "$whole" "$LIMIT"); 429s $tmr of $req = $share%" ">= 90%, 429s <= 5%, once" "$(verdict "$ok")"
    row "  created $created of $((2 * SHARED)), $dupes" "A settled $(field "${a%.csv}.json" rate_settled), B $(field "${b%.csv}.json" rate_settled)" "" ""
done

# 4: --rate auto
rm -rf "$BULKCAST_STATE_DIR" # it climbs from 1/s: nothing remembered
echo "--rate auto, $ROWS rows, against a $LIMIT/s account, jitter 0-100ms..." >&2
sheet "$ROWS" "Auto" >"$WORK/auto.csv"
start_server --rate-limit "$LIMIT" --latency 300ms --jitter 100ms
submit "$WORK/auto.csv" -- --rate auto
tmr=$(stat too_many_requests)
stop_server
after15=$(slope 15 1)
req=$(field "$WORK/auto.json" requests)
ok=$(awk -v c="$after15" 'BEGIN {print (c >= 4.5 && c <= 5.0)}')
row "--rate auto vs a $LIMIT/s account: creates/s from 15 s on" "$after15/s; said $(field "$WORK/auto.json" rate_settled)/s" "4.5 to 5/s within 15 s" "$(verdict "$ok")"
row "  429s" "$tmr of $req = $(awk -v t="$tmr" -v r="$req" 'BEGIN {printf "%.1f", 100 * t / r}')%" "" ""

# 5: the pace remembered: a second `--rate auto` run on the same account starts where the
# first ended (the ledger keeps it), instead of climbing from 1/s again.
echo "--rate auto again on the same account, $SHARED rows..." >&2
sheet "$SHARED" "Again" >"$WORK/again.csv"
start_server --rate-limit "$LIMIT" --latency 300ms --jitter 100ms
submit "$WORK/again.csv" -- --rate auto
stop_server
first10=$(awk '$2 > 0 && !t0 {t0 = $1; c0 = $2} t0 && $1 - t0 <= 10 {t1 = $1; c = $2} END {printf "%.2f", (c - c0) / (t1 - t0)}' "$WORK/samples")
ok=$(awk -v c="$first10" 'BEGIN {print (c >= 4.0)}')
row "--rate auto again: creates/s in its first 10 s" "$first10/s" ">= 4/s (was ~1.5 climbing)" "$(verdict "$ok")"
