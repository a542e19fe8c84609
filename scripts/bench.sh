#!/usr/bin/env bash
# Runs every benchmark and leaves its JSON in out/bench/. Each benchmark
# measures ours against a bound or a baseline in the same run.
#   BENCH_QUICK=1 scripts/bench.sh    smaller sizes, a few minutes in all
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/out/bench"
mkdir -p "$out"
export TZ_BIN_DIR="$root/build/bin" TZ_SOURCE_DIR="$root"

run() {
    local name=$1; shift
    echo "== bench $name" >&2
    if "$@" >"$out/$name.json.tmp"; then
        mv "$out/$name.json.tmp" "$out/$name.json"
        cat "$out/$name.json"
    else
        echo "bench $name failed" >&2
        rm -f "$out/$name.json.tmp"
        return 1
    fi
}

status=0
run core "$root/build/bin/bench-core" || status=1
# Simulator throughput: durable reads of note chunks over 8 keep-alive
# connections against a 2,000-leaf chain, no latency.
sim_log=$(mktemp)
"$root/build/bin/tzel-rollup-sim" --port 0 --seed bench --leaves 2000 \
    --chain-cache "$root/out/chain-cache" --quiet 2>"$sim_log" &
sim_pid=$!
port=""
for _ in $(seq 1 600); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$sim_log" | head -n1 | sed 's/.*://')
    [ -n "$port" ] && break
    sleep 0.2
done
if [ -n "$port" ]; then
    run sim "$root/build/bin/bench-simload" --port "$port" --conns 8 --seconds 5 --notes 2000 || status=1
else
    echo "bench sim: simulator did not start" >&2; status=1
fi
kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$sim_log"
[ -f "$root/bench/sync.py" ] && { run sync python3 "$root/bench/sync.py" || status=1; }
[ -f "$root/bench/daemon.py" ] && { run daemon python3 "$root/bench/daemon.py" || status=1; }
[ -f "$root/bench/spend.py" ] && { run spend python3 "$root/bench/spend.py" || status=1; }
# The defaults against a saturating node, the CPU bound and a connection
# limit; also draws bench/results/saturation.png.
[ -f "$root/bench/fastdefault.py" ] && { run fastdefault python3 "$root/bench/fastdefault.py" || status=1; }
[ -f "$root/bench/detect.py" ] && { run detect python3 "$root/bench/detect.py" || status=1; }
exit $status
