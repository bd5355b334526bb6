"""Summarizes criterion's results (target/criterion/**/new/estimates.json) as a Markdown table,
or, with --rsa-us, prints the median of the RSA-2048 verification benchmark in microseconds.

Usage: criterion_summary.py [--since FILE] [--rsa-us] CRITERION_DIR
--since FILE keeps only results written after FILE was (so a run reports its own figures).
"""

import json
import os
import sys

# The benchmark ids (criterion's full_id) that measure RSA-2048 verification alone.
RSA_IDS = ("rsa2048_verify_pkcs1_sha256", "knox/rsa2048_verify", "rsa/verify_2048")


def results(root, since):
    found = []
    for directory, _dirs, files in os.walk(root):
        if os.path.basename(directory) != "new" or "estimates.json" not in files:
            continue
        estimates = os.path.join(directory, "estimates.json")
        if since is not None and os.path.getmtime(estimates) < since:
            continue
        with open(os.path.join(directory, "benchmark.json")) as f:
            bench = json.load(f)
        with open(estimates) as f:
            median_ns = json.load(f)["median"]["point_estimate"]
        found.append((bench["full_id"], median_ns, bench.get("throughput")))
    return sorted(found)


def human_time(ns):
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.2f µs" % (ns / 1e3)
    return "%.0f ns" % ns


def main(argv):
    since = None
    rsa = False
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--since":
            since = os.path.getmtime(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--rsa-us":
            rsa = True
        else:
            args.append(argv[i])
        i += 1
    if len(args) != 1:
        sys.exit(__doc__)
    found = results(args[0], since)
    if rsa:
        for full_id, median_ns, _ in found:
            if full_id in RSA_IDS:
                print("%.3f" % (median_ns / 1e3))
                return
        return
    print("\n## criterion (hookwarden-verify), median per call\n")
    print("| benchmark | time | throughput |")
    print("|---|---|---|")
    for full_id, median_ns, throughput in found:
        rate = ""
        if throughput and "Bytes" in throughput:
            rate = "%.0f MiB/s" % (throughput["Bytes"] / (median_ns / 1e9) / (1024 * 1024))
        elif throughput and "Elements" in throughput:
            rate = "%.0f/s" % (throughput["Elements"] / (median_ns / 1e9))
        print("| %s | %s | %s |" % (full_id, human_time(median_ns), rate))


if __name__ == "__main__":
    main(sys.argv[1:])
