#!/usr/bin/env bash
# The main job: a local rollup node simulator serving a cached 20,000-leaf
# chain that pays a few notes to a demo wallet, then a first sync of that
# wallet from leaf 0 with its progress display, then its balance; then a
# private send to a second demo wallet (proved by the transparent prover,
# applied by the simulator's kernel), and both wallets' syncs; then a bridge
# deposit pool prepared, credited by the simulator and shielded into a note.
#
# Environment knobs: DEMO_LEAVES (20000), DEMO_LATENCY_MS (20),
# DEMO_CONCURRENCY (32), DEMO_DIR (out/demo).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
leaves=${DEMO_LEAVES:-20000}
latency=${DEMO_LATENCY_MS:-20}
concurrency=${DEMO_CONCURRENCY:-32}
dir=${DEMO_DIR:-$root/out/demo}
cache="$root/out/chain-cache"
# A fixed demo secret, so that the generated chain can be cached across runs.
demo_sk=${DEMO_MASTER_SK:-0d3e0f1c2b3a495867768594a3b2c1d0e0f1021324354657687980a1b2c3d400}

mkdir -p "$dir" "$cache"
rm -f "$dir"/wallet.json* "$dir"/.wallet.json.tmp.* "$dir"/addr.json "$dir"/sim.log \
    "$dir"/friend.json* "$dir"/.friend.json.tmp.* "$dir"/friend-addr.json
wallet="$dir/wallet.json"
friend="$dir/friend.json"
friend_sk=${DEMO_FRIEND_SK:-1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f800}

step() { printf '\n== %s\n' "$*" >&2; }

step "Creating a demo wallet and its first address (an auth tree of ~35M BLAKE2s calls, on all cores)"
"$bin/tzel-wallet" -w "$wallet" init --master-sk "$demo_sk" --addresses 0 --at-tree-size 0
"$bin/tzel-wallet" -w "$wallet" receive --out "$dir/addr.json" >"$dir/receive.log" 2>&1 \
    || { cat "$dir/receive.log" >&2; exit 1; }
echo "payment address of #0 written to $dir/addr.json" >&2

step "Starting tzel-rollup-sim: $leaves leaves (cached in $cache), ${latency} ms per request"
"$bin/tzel-rollup-sim" --port 0 --seed demo --leaves "$leaves" \
    --pay "$dir/addr.json:5:1000000" --chain-cache "$cache" \
    --latency-ms "$latency" 2>"$dir/sim.log" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; wait $sim_pid 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 1200); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/sim.log" 2>/dev/null | head -n1 || true)
    [ -n "$url" ] && break
    kill -0 $sim_pid 2>/dev/null || { cat "$dir/sim.log" >&2; exit 1; }
    sleep 0.25
done
[ -n "$url" ] || { echo "demo: simulator did not start" >&2; cat "$dir/sim.log" >&2; exit 1; }
echo "simulator at $url" >&2

step "Syncing from leaf 0 (concurrency $concurrency, checkpoint every 250 leaves)"
start=$(date +%s%N)
TZEL_SYNC_CONCURRENCY=$concurrency "$bin/tzel-wallet" -w "$wallet" --rollup-node-url "$url" sync
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'sync of %s leaves took %d.%03d s\n' "$leaves" $((ms / 1000)) $((ms % 1000)) >&2

step "Balance"
"$bin/tzel-wallet" -w "$wallet" balance
"$bin/tzel-wallet" -w "$wallet" addresses

step "A second wallet, and a private send to it (proved by tzel-transparent-prover, applied by the simulator's kernel)"
"$bin/tzel-wallet" -w "$friend" init --master-sk "$friend_sk" --addresses 0 --at-head \
    --rollup-node-url "$url"
"$bin/tzel-wallet" -w "$friend" receive --out "$dir/friend-addr.json" >"$dir/receive.log" 2>&1 \
    || { cat "$dir/receive.log" >&2; exit 1; }
curl -fsS "$url/sim/profile" >"$wallet.network.json"
"$bin/tzel-wallet" -w "$wallet" send --to "$dir/friend-addr.json" --amount 250000 \
    --memo "hello from the demo" --reprove-bin "$bin/tzel-transparent-prover" \
    --executables-dir "$dir" 2>"$dir/send.log" || { cat "$dir/send.log" >&2; exit 1; }

step "The friend's sync finds the note; the sender's sync confirms the spend and finds its change"
"$bin/tzel-wallet" -w "$friend" --rollup-node-url "$url" sync
"$bin/tzel-wallet" -w "$friend" balance
"$bin/tzel-wallet" -w "$wallet" --rollup-node-url "$url" sync
"$bin/tzel-wallet" -w "$wallet" balance

step "A deposit pool: prepared by the wallet, credited on L1 (here: by the simulator), shielded into a note"
"$bin/tzel-wallet" -w "$wallet" --rollup-node-url "$url" --json deposit --amount 400000 \
    --prepare-only >"$dir/deposit.json" 2>"$dir/deposit.log" || { cat "$dir/deposit.log" >&2; exit 1; }
pool=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["pubkey_hash"])' \
    "$dir/deposit.json")
echo "pool $pool" >&2
curl -fsS -X POST -H 'Content-Type: application/json' \
    -d "{\"pubkey_hash\": \"$pool\", \"amount\": 400000}" "$url/sim/deposit" >/dev/null
"$bin/tzel-wallet" -w "$wallet" --reprove-bin "$bin/tzel-transparent-prover" \
    --executables-dir "$dir" shield --pubkey-hash "$pool" 2>"$dir/shield.log" \
    || { cat "$dir/shield.log" >&2; exit 1; }
"$bin/tzel-wallet" -w "$wallet" --rollup-node-url "$url" sync
"$bin/tzel-wallet" -w "$wallet" balance
