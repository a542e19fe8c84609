#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (run as root, or with the
# packages already present). Installs the Debian packages the build needs and
# brings PQClean's ML-KEM-768 sources from the npm registry's `pqclean`
# package at a pinned version, verified against its sha512 before unpacking.
#
#   scripts/setup.sh            build dependencies
#   scripts/setup.sh --test     also what the tests need (python3, chromium,
#                               clang and its libFuzzer runtime for make fuzz)
#   scripts/setup.sh --bench    also what the benchmarks need (python3, and
#                               python3-matplotlib for their plots)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
want_test=0
want_bench=0
[ "${1:-}" = "--test" ] && want_test=1
[ "${1:-}" = "--bench" ] && want_bench=1

PQCLEAN_VERSION=0.8.1
PQCLEAN_SHA512='+5FtknAJdiNtVBiyLiKW3OnanhcqSWy44KCaZz1tELhalp5HfuIcxNsX9uS0t7ne2tEWc7NBd4GpiQBTGTIJBA=='

pkgs=(build-essential cmake pkg-config libb2-dev libsodium-dev
      libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev npm ca-certificates openssl
      curl)   # curl: the demo reads the simulator's network profile
if [ "$want_test" = 1 ]; then
  pkgs+=(python3 procps chromium)   # chromium: the daemon's status page test
  # make fuzz: clang, and libFuzzer with the sanitizer runtimes, which
  # Debian 12 ships apart from clang (only recommended by it).
  pkgs+=(clang libclang-rt-dev)
fi

if [ "$want_bench" = 1 ]; then
  pkgs+=(python3 python3-matplotlib)   # bench/fastdefault.py draws a PNG
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm may come from elsewhere (a node install); do not force Debian's.
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = npm ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dest="$here/third_party/pqclean-$PQCLEAN_VERSION"
if [ ! -f "$dest/.verified" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "pqclean@$PQCLEAN_VERSION" >/dev/null)
  tarball="$work/pqclean-$PQCLEAN_VERSION.tgz"
  got=$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)
  if [ "$got" != "$PQCLEAN_SHA512" ]; then
    echo "setup: pqclean-$PQCLEAN_VERSION.tgz sha512 mismatch: got $got" >&2
    exit 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -xzf "$tarball" -C "$work" \
    package/deps/PQClean/crypto_kem/ml-kem-768/clean \
    package/deps/PQClean/common/fips202.c package/deps/PQClean/common/fips202.h \
    package/deps/PQClean/common/randombytes.h package/deps/PQClean/common/compat.h \
    package/deps/PQClean/common/crypto_declassify.h
  cp -r "$work/package/deps/PQClean/crypto_kem" "$work/package/deps/PQClean/common" "$dest/"
  echo "$PQCLEAN_SHA512" > "$dest/.verified"
  echo "setup: PQClean ML-KEM-768 from pqclean@$PQCLEAN_VERSION (sha512 verified)" >&2
fi
