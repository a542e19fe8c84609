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
[ -x "$root/build/bin/bench-simload" ] && { run sim "$root/build/bin/bench-simload" || status=1; }
[ -f "$root/bench/sync.py" ] && { run sync python3 "$root/bench/sync.py" || status=1; }
[ -f "$root/bench/daemon.py" ] && { run daemon python3 "$root/bench/daemon.py" || status=1; }
exit $status
