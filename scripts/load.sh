#!/usr/bin/env bash
# Runs hookwarden's two load tests and prints their numbers:
# - 10,000 signed deliveries (20 % duplicates, 5 % forgeries, 32 in flight) through
#   `hookwarden serve` (cli/tests/it/load.rs);
# - 10,000 Knox deliveries through 32 `knox-webhook` processes under one Lambda Runtime API
#   against moto (functions/knox/tests/it/load.rs, load_through_the_runtime_api).
# Both also run in the normal test suite; this shows their output. `--release` measures
# optimized builds (the suite runs debug builds, whose numbers are several times lower).
# Needs moto[server] >= 5.2.1 for the second test.
#
# usage: scripts/load.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
case "${1:-}" in
    "") ;;
    --release) profile=(--release) ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

status=0
run() {
    # The tests print their numbers on stderr; show those lines, keep cargo's exit status.
    local output
    output=$(mktemp)
    cargo test "${profile[@]}" --locked "$@" -- --exact --nocapture >"$output" 2>&1 || status=1
    grep -E '^(hookwarden serve load|runtime API load|built and signed|signed [0-9]+ deliveries)|^test result|panicked' "$output" || true
    rm -f "$output"
}

run -p hookwarden-cli --test it load::ten_thousand_deliveries_store_exactly_the_unique_valid_events
run -p knox-webhook --test it load::load_through_the_runtime_api
exit "$status"
