#!/usr/bin/env bash
# hookwarden's benchmark, one command: builds the three functions in release, then measures
# each — and the Python Knox reference receiver — as Lambda runs them (fresh processes polling
# a Lambda Runtime API on 127.0.0.1) against moto's S3 and Secrets Manager on 127.0.0.1,
# reached over TLS (a test CA) and over plain HTTP: cold start (also with the invocation at a
# memory size's CPU share, where a CPU cgroup can be written), CPU per warm event, peak RSS,
# binary size, AWS requests and wall time per event; the same for an earlier build of the
# functions (BENCH_BASELINE) in the same run, side by side, with the goals checked;
# RSA-2048 verification next to `openssl speed rsa2048`; the criterion benches of
# hookwarden-verify.
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
#   BENCH_IDENTITY_EVENTS=20  first deliveries (and as many duplicates) per receiver, sink and
#                          round trip; more for a wall-time comparison finer than ±10 %
#   BENCH_TENANTS=100      also measure scalefusion and oneaccess with 1 and with this many
#                          tenants (events sent to /t<n mod N>): the tenant lookup's cost; 0 skips
#   BENCH_BASELINE=07c0794 the git revision whose functions are measured beside the current
#                          ones (`<function>@baseline`): built in release in a temporary git
#                          worktree with its own target dir, cached in target/bench-builds/<rev>;
#                          empty skips
#   BENCH_JITTER=1         also measure the current functions built with AWS-LC's jitter
#                          entropy (AWS_LC_SYS_NO_JITTER_ENTROPY=0; `<function>@jitter`; target
#                          dir target/bench-jitter)
#   BENCH_MEMORY_MB=128    the memory size whose CPU share (MB/1769 of a core, a CPU cgroup)
#                          the first invocation runs at in the second series of cold starts
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

functions=(-p knox-webhook -p scalefusion-webhook -p oneaccess-webhook)
binaries=(knox-webhook scalefusion-webhook oneaccess-webhook)
echo "== building the functions (release profile of the root Cargo.toml)" >&2
cargo build --release --locked "${functions[@]}" >&2

# A fresh target dir starts from the current release build's dependencies, not from nothing.
seed_target() {
    if [ ! -d "$1/release" ] && [ -d target/release ]; then
        mkdir -p "$1"
        cp -a target/release "$1/release"
    fi
}

# `--compare LABEL=DIR` arguments for the harness, one pair per other build.
compare_args=()
compare_builds=()

baseline=${BENCH_BASELINE-07c0794}
if [ -n "$baseline" ]; then
    rev=$(git rev-parse --verify "$baseline^{commit}")
    cache=target/bench-builds/$rev
    if [ ! -x "$cache/knox-webhook" ]; then
        echo "== building the functions at $baseline ($rev) in a temporary worktree" >&2
        tree=$(mktemp -d)
        git worktree add --detach "$tree/src" "$rev" >&2
        seed_target target/bench-builds/target
        (cd "$tree/src" && CARGO_TARGET_DIR="$OLDPWD/target/bench-builds/target" \
            cargo build --release --locked "${functions[@]}") >&2
        mkdir -p "$cache"
        for binary in "${binaries[@]}"; do
            cp target/bench-builds/target/release/"$binary" "$cache/"
        done
        git worktree remove --force "$tree/src"
        rm -rf "$tree"
    fi
    compare_args+=(--compare "baseline=$cache")
    compare_builds+=("baseline=$cache")
fi

if [ "${BENCH_JITTER:-0}" = 1 ]; then
    # The functions are built without AWS-LC's jitter entropy (.cargo/config.toml); this
    # variant has it back, for the trade-off.
    echo "== building the functions with AWS-LC's jitter entropy (target/bench-jitter)" >&2
    seed_target target/bench-jitter
    AWS_LC_SYS_NO_JITTER_ENTROPY=0 CARGO_TARGET_DIR=target/bench-jitter \
        cargo build --release --locked "${functions[@]}" >&2
    compare_args+=(--compare "jitter=target/bench-jitter/release")
    compare_builds+=("jitter=target/bench-jitter/release")
fi
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
receivers=${BENCH_ONLY:-knox,scalefusion,oneaccess,python-knox}

# Instructions first: the comparison table of the main run shows them.
instructions_args=()
if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
    echo "== counting instructions (callgrind, AWS over TLS)" >&2
    : > "$out/instructions.txt"
    for receiver in ${receivers//,/ }; do
        bash bench/instructions.sh "$receiver" target/release 200 | tee -a "$out/instructions.txt" >&2
        [ "$receiver" = python-knox ] && continue
        for build in "${compare_builds[@]}"; do
            bash bench/instructions.sh "$receiver" "${build#*=}" 200 "$receiver@${build%%=*}" |
                tee -a "$out/instructions.txt" >&2
        done
    done
    instructions_args+=(--instructions "$out/instructions.txt")
fi

identity_args=()
if [ "${BENCH_IDENTITY:-1}" = 1 ]; then
    identity_args+=(--with-identity --rtt-ms "${BENCH_RTT_MS:-0,20,50}"
        --identity-events "${BENCH_IDENTITY_EVENTS:-20}")
fi

echo "== measuring the receivers" >&2
target/debug/hookwarden-bench \
    --functions target/release "${compare_args[@]}" \
    --python "$python" \
    --memory-mb "${BENCH_MEMORY_MB:-128}" \
    --cold-runs "$cold_runs" --events "$events" --rss-events "$rss_events" \
    --json "$out/report.json" \
    "${identity_args[@]}" "${instructions_args[@]}" \
    "${rsa_args[@]}" "${only_args[@]}" | tee "$out/report.md"

tenants=${BENCH_TENANTS:-100}
if [ "$tenants" != 0 ]; then
    for count in 1 "$tenants"; do
        echo "== scalefusion and oneaccess with $count tenant(s) configured" >&2
        echo -e "\n## With $count tenant(s) configured (events to /t<n mod $count>)\n" | tee -a "$out/report.md"
        target/debug/hookwarden-bench \
            --functions target/release \
            --only scalefusion,oneaccess --tenants "$count" \
            --transport tls --no-cpu-share \
            --cold-runs "$cold_runs" --events "$events" --rss-events "$rss_events" \
            --json "$out/report-tenants-$count.json" | tee -a "$out/report.md"
    done
fi

if [ -f "$out/instructions.txt" ]; then
    awk '
        BEGIN {
            print "\n## Instructions executed (callgrind, AWS over TLS; independent of machine load)\n"
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
