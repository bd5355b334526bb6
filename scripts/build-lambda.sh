#!/usr/bin/env bash
# Builds the four functions (three receivers, the silence watchdog) as Lambda binaries
# (`bootstrap`, provided.al2023) for arm64 and/or x86_64 with cargo-lambda, which
# cross-compiles through zig against an old glibc, so the binaries load on Amazon Linux 2023
# whatever this machine's glibc is. Prints each binary's size and the newest glibc symbol
# version it needs.
#
# usage: scripts/build-lambda.sh [arm64] [x86-64]     (default: both)
# Needs cargo-lambda and zig: `pip install cargo-lambda` brings both.
# Output: target/lambda-<arch>/<function>/bootstrap
#
# SMOKE=1 then runs each arm64 build under qemu-aarch64 (Debian: qemu-user and
# libc6-arm64-cross) through the benchmark harness: a cold start and 50 events against moto.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-lambda >/dev/null || { echo "scripts/build-lambda.sh: needs cargo-lambda (pip install cargo-lambda)" >&2; exit 2; }

arches=("$@")
[ ${#arches[@]} -eq 0 ] && arches=(arm64 x86-64)
functions=(knox-webhook scalefusion-webhook oneaccess-webhook silence-watchdog)

for arch in "${arches[@]}"; do
    case $arch in arm64 | x86-64) ;; *) echo "scripts/build-lambda.sh: unknown architecture $arch" >&2; exit 2 ;; esac
    out=target/lambda-$arch
    cargo lambda build --release --locked "--$arch" --lambda-dir "$out" \
        $(printf -- '--bin %s ' "${functions[@]}") >&2
    for f in "${functions[@]}"; do
        binary=$out/$f/bootstrap
        glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
        printf '%s %s: %s bytes, needs %s\n' "$arch" "$f" "$(stat -c %s "$binary")" "$glibc"
    done
done

if [ "${SMOKE:-0}" = 1 ] && [[ " ${arches[*]} " == *" arm64 "* ]]; then
    command -v qemu-aarch64 >/dev/null || { echo "SMOKE=1 needs qemu-aarch64 (apt-get install qemu-user libc6-arm64-cross)" >&2; exit 2; }
    cargo build --locked -p hookwarden-bench >&2
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    for f in "${functions[@]}"; do ln -s "$PWD/target/lambda-arm64/$f/bootstrap" "$dir/$f"; done
    target/debug/hookwarden-bench --functions "$dir" --only knox,scalefusion,oneaccess \
        --cold-runs 1 --warmup 0 --events 50 --rss-events 51 --timeout-secs 120 \
        --wrap "$(command -v qemu-aarch64) -L /usr/aarch64-linux-gnu"
fi
