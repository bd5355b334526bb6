#!/usr/bin/env bash
# `sam build` as a user runs it (template.yaml's BuildMethod rust-cargolambda, a SAM beta
# feature that samconfig.toml opts into): cargo-lambda cross-compiles the four functions (the
# three webhook receivers and the silence watchdog) for arm64 through zig. Then checks that
# each .aws-sam/build/<Function>/bootstrap is an aarch64 ELF executable, and prints its size
# and the time the build took.
# Needs aws-sam-cli, cargo-lambda and zig (`pip install cargo-lambda` brings ziglang) and
# `rustup target add aarch64-unknown-linux-gnu`: `bash .ci/run` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v sam >/dev/null || missing+=("aws-sam-cli: pip install aws-sam-cli")
command -v cargo-lambda >/dev/null || missing+=("cargo-lambda: pip install cargo-lambda")
rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
    missing+=("the arm64 target: rustup target add aarch64-unknown-linux-gnu")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'scripts/sam-build.sh: missing prerequisites (bash .ci/run installs them):\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 2
fi

export SAM_CLI_TELEMETRY=0
started=$(date +%s)
sam build --beta-features
echo "sam build: $(($(date +%s) - started)) s"

failed=0
for function in KnoxFunction ScalefusionFunction OneAccessFunction WatchdogFunction; do
    binary=.aws-sam/build/$function/bootstrap
    # ELF magic, 64-bit, little-endian, and e_machine 183 (EM_AARCH64).
    if python3 - "$binary" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    header = f.read(20)
ok = header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 1 and struct.unpack("<H", header[18:20])[0] == 183
sys.exit(0 if ok else 1)
PY
    then
        printf '%s: aarch64 ELF, %s bytes\n' "$binary" "$(stat -c %s "$binary")"
    else
        echo "scripts/sam-build.sh: $binary is missing or not an aarch64 ELF executable" >&2
        failed=1
    fi
done
exit $failed
