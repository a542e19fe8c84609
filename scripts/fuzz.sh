#!/usr/bin/env bash
# Runs every fuzz target of a TZ_FUZZ build for a while (make fuzz).
#
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
#
# Each target starts from a scratch copy of tests/fuzz/corpus/<target>/
# (new inputs are not written into the repository) and runs under ASan and
# UBSan with leak detection. Crashes, leaks and hangs (an input over 10 s)
# are kept in BUILD_DIR/fuzz-artifacts/<target>/: add each one to the
# target's corpus as a regression seed once fixed. Prints one line per
# target (executions, corpus, result) and fails if any target failed.
# Writes BUILD_DIR/fuzz-summary.json; with FUZZ_README set, rewrites that
# file's fuzzing table from it (tests/torture/reliability.py --fuzz).
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:?usage: fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for f in "$here"/tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz_}")
  done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arts="$build/fuzz-artifacts"
mkdir -p "$arts"
summary=()
json=()
failed=0
for t in "${targets[@]}"; do
  exe="$build/bin/fuzz_$t"
  if [ ! -x "$exe" ]; then
    echo "fuzz: $exe missing (build with -DTZ_FUZZ=ON)" >&2
    exit 2
  fi
  corpus="$work/$t"
  mkdir -p "$corpus" "$arts/$t"
  cp -r "$here/tests/fuzz/corpus/$t/." "$corpus/"
  seeds=$(find "$corpus" -type f | wc -l)
  log="$arts/$t.log"
  echo "fuzz: $t for ${secs}s from $seeds seeds" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$arts/$t/" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc, see $log)"
    failed=1
    tail -40 "$log" >&2
  fi
  summary+=("$(printf '%-14s %12s execs %6s corpus  %s' "$t" "${execs:-?}" "$units" "$result")")
  json+=("$(printf '"%s": {"execs": %s, "seeds": %s, "corpus": %s, "ok": %s}' "$t" \
    "${execs:-0}" "$seeds" "$units" "$([ "$rc" -eq 0 ] && echo true || echo false)")")
done

echo "fuzz: ${secs}s per target"
printf '%s\n' "${summary[@]}"
{
  printf '{"seconds": %s, "targets": {' "$secs"
  sep=""
  for j in "${json[@]}"; do printf '%s%s' "$sep" "$j"; sep=", "; done
  printf '}}\n'
} >"$build/fuzz-summary.json"
if [ -n "${FUZZ_README:-}" ]; then
  python3 "$here/tests/torture/reliability.py" --fuzz "$build/fuzz-summary.json" \
    "$FUZZ_README" || failed=1
fi
exit "$failed"
