#!/usr/bin/env bash
# Measures the release-profile choices one at a time on knox-webhook: each variant differs
# from the root Cargo.toml's [profile.release] in one setting, is built in its own target
# directory (so variants never rebuild one another; about 15 minutes each on 2 cores), and is
# measured for binary size and for instructions at cold start and per warm event
# (bench/instructions.sh). Needs the harness: run bench/run.sh once first.
#
# usage: bench/profiles.sh [VARIANT...]   (default: all)
#   release  the profile as committed          thin   lto = "thin"
#   nolto    lto = false, codegen-units = 16   abort  panic = "abort"
#   opts     opt-level = "s"                   optz   opt-level = "z"
#   cold3    the size-optimized cold crates ([profile.release.package]) at opt-level 3
# PROFILES_TARGET (default target/profile-variants) holds the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${PROFILES_TARGET:-target/profile-variants}
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(release thin nolto abort opts optz cold3)
# The crates [profile.release.package] sets to opt-level "s".
cold_crates=$(awk '/^\[profile.release.package\]/ {on=1; next} /^\[/ {on=0} on && /opt-level/ {split($1, a, "."); print a[1]}' Cargo.toml)

for v in "${variants[@]}"; do
    settings=()
    config=()
    case $v in
        release) ;;
        thin) settings+=(CARGO_PROFILE_RELEASE_LTO=thin) ;;
        nolto) settings+=(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16) ;;
        abort) settings+=(CARGO_PROFILE_RELEASE_PANIC=abort) ;;
        opts) settings+=(CARGO_PROFILE_RELEASE_OPT_LEVEL=s) ;;
        optz) settings+=(CARGO_PROFILE_RELEASE_OPT_LEVEL=z) ;;
        cold3) for c in $cold_crates; do config+=(--config "profile.release.package.$c.opt-level=3"); done ;;
        *) echo "bench/profiles.sh: unknown variant $v" >&2; exit 2 ;;
    esac
    dir=$root/$v
    started=$(date +%s)
    env "${settings[@]}" CARGO_TARGET_DIR="$dir" cargo build --release --locked -q -p knox-webhook "${config[@]}"
    built=$(( $(date +%s) - started ))
    size=$(stat -c %s "$dir/release/knox-webhook")
    read -r _ cold per_event < <(bash bench/instructions.sh knox "$dir/release" 200)
    printf '%s size_bytes=%s cold_instructions=%s per_event_instructions=%s build_seconds=%s\n' \
        "$v" "$size" "$cold" "$per_event" "$built"
done
