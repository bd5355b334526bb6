#!/usr/bin/env bash
# Audits logs for secret material: every line of NEEDLES_FILE (a test secret, a signature
# header value, a body marker) is searched for, as a fixed string, in every LOG_FILE.
# Prints one line per log file and needle that matched — the needle's number and length,
# never the needle — and exits 1 if anything matched, 0 if nothing did, 2 on bad usage.
#
# usage: scripts/log-audit.sh NEEDLES_FILE LOG_FILE...
# The tests that run the functions and `hookwarden serve` call it on the logs they collect.
set -euo pipefail

if [ $# -lt 2 ] || [ ! -f "$1" ]; then
    echo "usage: $0 NEEDLES_FILE LOG_FILE..." >&2
    exit 2
fi
needles_file=$1
shift

# Needles shorter than 8 characters would match by chance; refuse them rather than skip.
needles=()
while IFS= read -r needle || [ -n "$needle" ]; do
    [ -z "$needle" ] && continue
    if [ ${#needle} -lt 8 ]; then
        echo "log-audit: needle $(( ${#needles[@]} + 1 )) is shorter than 8 characters" >&2
        exit 2
    fi
    needles+=("$needle")
done < "$needles_file"
if [ ${#needles[@]} -eq 0 ]; then
    echo "log-audit: $needles_file holds no needles" >&2
    exit 2
fi

hits=0
for log in "$@"; do
    if [ ! -f "$log" ]; then
        echo "log-audit: no log file $log" >&2
        exit 2
    fi
    # One pass per file for all needles; only on a hit is each needle looked up alone.
    if ! grep -q -F -f <(printf '%s\n' "${needles[@]}") -- "$log"; then
        continue
    fi
    for index in "${!needles[@]}"; do
        count=$(grep -c -F -e "${needles[$index]}" -- "$log" || true)
        if [ "$count" -gt 0 ]; then
            echo "log-audit: $log: needle $(( index + 1 )) (${#needles[$index]} characters) on $count line(s)"
            hits=$(( hits + 1 ))
        fi
    done
done

lines=$(cat -- "$@" | wc -l)
if [ "$hits" -gt 0 ]; then
    echo "log-audit: FAILED: $hits hit(s) for ${#needles[@]} needles in $# file(s), $lines lines"
    exit 1
fi
echo "log-audit: ok: ${#needles[@]} needles, $# file(s), $lines lines, no hits"
