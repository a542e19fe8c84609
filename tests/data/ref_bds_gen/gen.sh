#!/bin/sh
# Regenerates ../ref_bds_steps.json: runs the reference wallet's own
# XmssBdsState code (new_with_params and advance, extracted from
# apps/wallet/src/lib.rs of a trilitech/tzel checkout; serde attributes and
# its test guard removed) with this project's leaf and node hashes
# (shim.c over libtzcore), for address 0 of ../ref_base_wallet_bds.json,
# and prints the serde layout of the state after each marked number of keys.
# Usage: gen.sh <tzel git dir> <tzel-c build dir>   (needs rustc, python3)
# The states were made from commit 7698333 of the reference (lib.rs lines
# 26-444 hold the BDS code there; check the range on another commit).
set -e
REF=$1 BUILD=$2 OUT=$(mktemp -d)
HERE=$(cd "$(dirname "$0")" && pwd)
git -C "$REF" show HEAD:apps/wallet/src/lib.rs | sed -n 26,444p > "$OUT/ref_bds.rs"
python3 - "$OUT/ref_bds.rs" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = re.sub(r'#\[derive\([^)]*\)\]', '#[derive(Clone, Default)]', s)
s = re.sub(r'\s*#\[serde\([^)]*\)\]', '', s)
s = s[:s.index('#[cfg(test)]\nstatic FULL_XMSS')] + s[s.index('impl XmssBdsState {'):]
s = re.sub(r'assert_full_xmss_bds_rebuild_allowed\([^;]*;', '', s)
s = s[:s.index('#[derive(Clone, Default)]\nstruct WalletAddressState')]
open(p, 'w').write(s)
PY
cp "$HERE/main.rs" "$OUT/"
cc -O2 -c "$HERE/shim.c" -I"$HERE/../../../src" -o "$OUT/shim.o"
ar rcs "$OUT/libshim.a" "$OUT/shim.o"
rustc -O --edition 2021 "$OUT/main.rs" -o "$OUT/gen" -L "$OUT" -L "$BUILD" -l static=shim \
    -l static=tzcore -l static=tzbase -l static=pqclean_mlkem768 -l b2 -l sodium
"$OUT/gen" 1,2,3,4,5,7,8,9,16,17,31,32,33,40,64,100,255,256,257,300,1023,1024,1025 > "$OUT/states.jsonl"
python3 - "$OUT/states.jsonl" "$HERE/../ref_bds_steps.json" <<'PY'
import json, sys
lines = [l.strip() for l in open(sys.argv[1])]
src = ("The reference wallet's XmssBdsState (apps/wallet/src/lib.rs of trilitech/tzel at "
       "the mirror's HEAD) for address 0 of ref_base_wallet_bds.json (master_sk 0x42..), "
       "serialized in its serde field order after next_index advances from the fresh state; "
       "produced by running the reference's own BDS code (new_with_params, advance) with "
       "this project's leaf and node hashes; states[0] equals that fixture's bds")
open(sys.argv[2], 'w').write('{\n"source": ' + json.dumps(src) + ',\n"address": 0,\n"states": [\n'
                             + ',\n'.join(lines) + '\n]\n}\n')
PY
rm -r "$OUT"
