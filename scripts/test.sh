#!/usr/bin/env bash
# Runs every test hookwarden has: unit, property, the Java differential test against
# Samsung's reference verifier, the AWS tests against moto's server, the built functions
# under a Lambda Runtime API, the CLI against a real local server, and the SAM template
# checks, the functions under cargo-lambda's emulator and `sam build`. Needs: cargo (with the
# aarch64-unknown-linux-gnu target), python3 with moto[server]>=5.2.1 and duckdb, cfn-lint, checkov,
# aws-sam-cli and cargo-lambda,
# a JDK with Debian's libjackson2-databind-java (`.ci/run` installs them all).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
python3 -c 'import moto.server' 2>/dev/null || missing+=("python: pip install 'moto[server]>=5.2.1'")
python3 -c 'import duckdb' 2>/dev/null || missing+=("python: pip install duckdb==2.0.0 (the query table tests)")
command -v javac >/dev/null || missing+=("a JDK: apt-get install default-jdk-headless")
[ -f /usr/share/java/jackson-databind.jar ] || missing+=("Jackson: apt-get install libjackson2-databind-java")
dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libjackson2-core-java 2>/dev/null || echo 0)" ge 2.14.1-2~deb12u1 ||
    missing+=("jackson-core with StreamReadConstraints: apt-get update && apt-get install libjackson2-core-java")
command -v cfn-lint >/dev/null || missing+=("cfn-lint: pip install cfn-lint")
command -v cargo-lambda >/dev/null || missing+=("cargo-lambda (and zig): pip install cargo-lambda")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'scripts/test.sh: missing prerequisites (bash .ci/run installs them):\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 2
fi
python3 scripts/check-links.py

# The chaos and scale simulations (knox-webhook's tests/it, by name) run on their own, with
# their output shown: they print the counts they checked (deliveries, retries, throttles, what
# was stored and published).
simulations=(exactly_once_under_faults_and_sigkill a_burst_of_one_event_type_against_scaled_quotas)
cargo test --workspace --locked --no-fail-fast -- "${simulations[@]/#/--skip=}"
cargo test --locked -p knox-webhook --test it -- --nocapture "${simulations[@]}"
bash scripts/check-template.sh
# The user's toolchain: the built functions under cargo-lambda's emulator (invoke and function
# URL, all three providers, against moto), then `sam build` (arm64 bootstraps via cargo-lambda).
python3 scripts/cargo-lambda-emulator.py
bash scripts/sam-build.sh
