#!/usr/bin/env bash
# Instructions executed by one receiver, counted by callgrind: for the cold start (process
# start to first response) and per warm event. Unlike CPU time these counts do not move with
# machine load, so they compare receivers (and build profiles) fairly on a busy machine.
#
# usage: bench/instructions.sh RECEIVER FUNCTIONS_DIR [EVENTS [LABEL]]
#   RECEIVER: knox, scalefusion, oneaccess or python-knox; FUNCTIONS_DIR holds the binaries.
# Prints one line: LABEL (default RECEIVER) cold_instructions per_event_instructions
# AWS is reached over TLS (the test CA), so the cold start includes the handshake and the TLS
# library's start-up (AWS-LC's jitter entropy, where built in: seconds under valgrind, so each
# AWS call may take up to a minute here).
# INSTRUCTIONS_ARGS: more harness arguments, e.g. "--tenants 100".
# With INSTRUCTIONS_TOP=N, also prints (to stderr) the N functions with the most inclusive
# instructions in the warm process (INSTRUCTIONS_PROFILE=cold: in a cold start) — where the
# time goes. Symbols need a build with them:
# `cargo build --profile profiling` and FUNCTIONS_DIR=target/profiling.
#
# valgrind lacks SHA-NI, so SHA-256 runs its portable code under callgrind: hashing weighs
# more here than on the real CPU (for both receivers).
set -euo pipefail
cd "$(dirname "$0")/.."
receiver=$1
functions=$2
events=${3:-200}
label=${4:-$receiver}
command -v valgrind >/dev/null || { echo "bench/instructions.sh: needs valgrind" >&2; exit 2; }
python=$(python3 -c 'import sys; print(sys.executable)')

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The harness ends a receiver with SIGKILL, which would lose callgrind's output. So callgrind
# runs as a child of this wrapper: the kill ends the wrapper only, and the receiver exits on
# its own (writing the profile) once its Runtime API is gone.
cat > "$dir/wrap.sh" <<EOF
#!/bin/sh
/usr/bin/valgrind --tool=callgrind --callgrind-out-file=$dir/cg.%p "\$@" 2>>$dir/valgrind.log &
wait
EOF
chmod +x "$dir/wrap.sh"

target/debug/hookwarden-bench --functions "$functions" --python "$python" --only "$receiver" \
    --cold-runs 1 --warmup 0 --events "$events" --rss-events $((events + 1)) \
    --transport tls --no-cpu-share \
    --env HOOKWARDEN_DEPENDENCY_TIMEOUT_MS=60000 \
    --wrap "$dir/wrap.sh" --timeout-secs 900 ${INSTRUCTIONS_ARGS:-} > /dev/null 2> "$dir/harness.log" ||
    { cat "$dir/harness.log" >&2; exit 1; }

# Three processes: an unmeasured cold start, a measured one, then 1 + EVENTS events.
for _ in $(seq 1 120); do
    [ "$(grep -l '^totals:' "$dir"/cg.* 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 1
done
mapfile -t totals < <(ls -tr "$dir"/cg.* | xargs -n1 awk '/^totals:/ {print $2}')
if [ ${#totals[@]} -lt 3 ]; then
    echo "bench/instructions.sh: callgrind wrote ${#totals[@]} of 3 profiles; see $dir/valgrind.log" >&2
    trap - EXIT
    exit 1
fi
cold=${totals[1]}
warm=${totals[2]}
echo "$label $cold $(( (warm - cold) / events ))"
if [ -n "${INSTRUCTIONS_TOP:-}" ]; then
    which=3
    [ "${INSTRUCTIONS_PROFILE:-warm}" = cold ] && which=2
    profile=$(ls -tr "$dir"/cg.* | sed -n "${which}p")
    callgrind_annotate --inclusive=yes --threshold=100 "$profile" 2>/dev/null |
        grep -v '^-' | sed -n "1,$((INSTRUCTIONS_TOP + 20))p" >&2
fi
