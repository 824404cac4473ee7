#!/usr/bin/env bash
# A long search of the deterministic simulation (docs/simulation.md): SEEDS worlds (default
# 100,000) split over JOBS processes (default: every core), then each mutant hunted once.
# Prints every violation with its replay command, and the worlds run, seeds a second and
# violations in all.
#
# Usage: benches/simulate.sh [SEEDS] [JOBS]      (SEEDS may also be a range: 5000..105000)
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${1:-100000}
JOBS=${2:-$(nproc)}
case "$SEEDS" in
*..*) FROM=${SEEDS%..*} TO=${SEEDS#*..} ;;
*) FROM=0 TO=$SEEDS ;;
esac

BIN=$(cargo test --release --test simulation --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "cannot build the simulation" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "$((TO - FROM)) worlds, seeds $FROM..$TO, on $JOBS processes..." >&2
start=$(date +%s.%N)
step=$(( (TO - FROM + JOBS - 1) / JOBS ))
pids=()
for j in $(seq 0 $((JOBS - 1))); do
    a=$((FROM + j * step)) b=$((FROM + (j + 1) * step))
    [ "$b" -gt "$TO" ] && b=$TO
    [ "$a" -ge "$b" ] && continue
    SIM_SEEDS="$a..$b" SIM_MUTANTS=0 "$BIN" >"$WORK/$j.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
end=$(date +%s.%N)

cat "$WORK"/*.out | grep -v ' worlds' || true
awk -v s="$start" -v e="$end" '/ worlds, [0-9]+ violations$/ {w += $1; v += $(NF-1)}
    END {printf "%d worlds in %.0f s (%.0f a second), %d violations\n", w, e - s, w / (e - s), v}' "$WORK"/*.out
echo "hunting the mutants..." >&2
SIM_SEEDS=0 "$BIN" | grep '^mutant:'
