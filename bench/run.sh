#!/usr/bin/env bash
# hookwarden's benchmark, one command: builds the three functions in release, then measures
# each — and the Python Knox reference receiver — as Lambda runs them (fresh processes polling
# a Lambda Runtime API on 127.0.0.1) against moto's S3 and Secrets Manager on 127.0.0.1:
# cold start, CPU per warm event, peak RSS, binary size; RSA-2048 verification next to
# `openssl speed rsa2048`; and the criterion benches of hookwarden-verify.
#
# Needs: cargo; python3 with moto[server]>=5.2.1, boto3 and cryptography; openssl.
# Settings (environment):
#   BENCH_QUICK=1          a short run (3 cold starts, 500 events) to check the setup
#   BENCH_COLD_RUNS=7      measured cold starts per receiver
#   BENCH_EVENTS=2000      warm events the CPU per event is measured over (5 windows per receiver, taken in turn)
#   BENCH_RSS_EVENTS=10000 events handled before peak RSS is read
#   BENCH_CRITERION=0      skip the criterion benches (RSA figure included)
#   BENCH_ONLY=knox,python-knox   only these receivers
#   BENCH_CALLGRIND=0      skip the instruction counts (callgrind; about 5 minutes)
#   BENCH_IDENTITY=0       skip the AWS requests and wall time per event under injected round trips
#   BENCH_RTT_MS=0,20,50   the injected AWS round trips for that measurement
#   BENCH_TENANTS=100      also measure scalefusion and oneaccess with 1 and with this many
#                          tenants (events sent to /t<n mod N>): the tenant lookup's cost; 0 skips
# Output: the report on stdout and in bench/out/report.md, figures in bench/out/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
rm -f "$out/criterion.md"

python=$(python3 -c 'import sys; print(sys.executable)')
if ! "$python" -c 'import moto.server, boto3, cryptography' 2>/dev/null; then
    echo "bench/run.sh: needs python3 with moto[server]>=5.2.1, boto3 and cryptography:" >&2
    echo "  python3 -m pip install 'moto[server]>=5.2.1' boto3 cryptography" >&2
    exit 2
fi
command -v openssl >/dev/null || { echo "bench/run.sh: needs openssl (apt-get install openssl)" >&2; exit 2; }

cold_runs=${BENCH_COLD_RUNS:-7}
events=${BENCH_EVENTS:-2000}
rss_events=${BENCH_RSS_EVENTS:-10000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    cold_runs=3 events=500 rss_events=800
fi

echo "== building the functions (release profile of the root Cargo.toml)" >&2
cargo build --release --locked -p knox-webhook -p scalefusion-webhook -p oneaccess-webhook >&2
# The harness only serves the Runtime API and reads /proc; a dev build reuses the test
# build's dependencies instead of compiling the AWS SDK a second time in release.
echo "== building the harness" >&2
cargo build --locked -p hookwarden-bench >&2

echo "== openssl speed -seconds 3 rsa2048 (the physical reference for RSA)" >&2
openssl speed -seconds 3 rsa2048 2>/dev/null | tee "$out/openssl-speed.txt" >&2
openssl_verify=$(awk '/^rsa 2048 bits/ {print $NF}' "$out/openssl-speed.txt")

rsa_args=()
if [ "${BENCH_CRITERION:-1}" = 1 ]; then
    echo "== cargo bench -p hookwarden-verify (criterion)" >&2
    touch "$out/.criterion-start"
    cargo bench --locked -p hookwarden-verify >&2
    "$python" bench/criterion_summary.py --since "$out/.criterion-start" target/criterion > "$out/criterion.md"
    cat "$out/criterion.md" >&2
    awslc_us=$("$python" bench/criterion_summary.py --since "$out/.criterion-start" --rsa-us target/criterion)
    [ -n "$awslc_us" ] && rsa_args+=(--awslc-rsa2048-verify-us "$awslc_us")
fi
[ -n "$openssl_verify" ] && rsa_args+=(--openssl-rsa2048-verify-per-s "$openssl_verify")

only_args=()
[ -n "${BENCH_ONLY:-}" ] && only_args+=(--only "$BENCH_ONLY")

echo "== measuring the receivers" >&2
target/debug/hookwarden-bench \
    --functions target/release \
    --python "$python" \
    --cold-runs "$cold_runs" --events "$events" --rss-events "$rss_events" \
    --json "$out/report.json" \
    "${rsa_args[@]}" "${only_args[@]}" | tee "$out/report.md"

if [ "${BENCH_IDENTITY:-1}" = 1 ]; then
    echo "== AWS requests and wall time per event, per sink, under injected round trips" >&2
    target/debug/hookwarden-bench --identity \
        --functions target/release \
        --python "$python" \
        --rtt-ms "${BENCH_RTT_MS:-0,20,50}" \
        "${only_args[@]}" | tee -a "$out/report.md"
fi

tenants=${BENCH_TENANTS:-100}
if [ "$tenants" != 0 ]; then
    for count in 1 "$tenants"; do
        echo "== scalefusion and oneaccess with $count tenant(s) configured" >&2
        echo -e "\n## With $count tenant(s) configured (events to /t<n mod $count>)\n" | tee -a "$out/report.md"
        target/debug/hookwarden-bench \
            --functions target/release \
            --only scalefusion,oneaccess --tenants "$count" \
            --cold-runs "$cold_runs" --events "$events" --rss-events "$rss_events" \
            --json "$out/report-tenants-$count.json" | tee -a "$out/report.md"
    done
fi

if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
    echo "== counting instructions (callgrind)" >&2
    receivers=${BENCH_ONLY:-knox,scalefusion,oneaccess,python-knox}
    : > "$out/instructions.txt"
    for receiver in ${receivers//,/ }; do
        bash bench/instructions.sh "$receiver" target/release 200 | tee -a "$out/instructions.txt" >&2
    done
    awk '
        BEGIN {
            print "\n## Instructions executed (callgrind; independent of machine load)\n"
            print "| receiver | cold start, millions | per warm event, millions |"
            print "|---|---|---|"
        }
        { cold[$1] = $2; warm[$1] = $3; printf "| %s | %.1f | %.2f |\n", $1, $2 / 1e6, $3 / 1e6 }
        END {
            if (("python-knox" in cold) && ("knox" in cold))
                printf "\nKnox, Python reference ÷ Rust: cold start %.0f×, per warm event %.1f× fewer instructions.\n",
                    cold["python-knox"] / cold["knox"], warm["python-knox"] / warm["knox"]
        }' "$out/instructions.txt" | tee -a "$out/report.md"
fi
if [ -f "$out/criterion.md" ]; then
    tee -a "$out/report.md" < "$out/criterion.md"
fi
