#!/usr/bin/env python3
"""The three functions under cargo-lambda's emulator, as a user runs them locally.

For each provider: `cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API
(`AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/.rt`) and its function URL emulator; the
built function binary polls it; then
  1. `cargo lambda invoke --data-file <sample>` must answer 200, and
  2. a POST of another sample, signed afresh (`hookwarden send`), to
     `http://127.0.0.1:<port>/lambda-url/_/` must answer 200,
each storing one more event in moto's S3. Loopback addresses only; every step bounded.

usage: scripts/cargo-lambda-emulator.py [--functions target/debug] [--cli target/debug/hookwarden]
Needs: cargo-lambda (pip install cargo-lambda), python3 with moto[server] and boto3.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "hookwarden-events"
REGION = "us-east-1"
STEP_TIMEOUT = 60

PROVIDERS = {
    "knox": {
        "env": {"KNOX_CERT_KEY": "_certificates/knox-validation.pem"},
        "invoke": "knox/KAI_BATTERY_STATUS.json",
        "post": "knox/KG_DEVICE_LOCKED.json",
    },
    "scalefusion": {
        "env": {"SCALEFUSION_SECRET_ID": "hookwarden/scalefusion"},
        "invoke": "scalefusion/device.enrolled.json",
        "post": "scalefusion/device.locked.base64.json",
    },
    "oneaccess": {
        "env": {"ONEACCESS_SECRET_ID": "hookwarden/oneaccess"},
        "invoke": "oneaccess/plain/CREATE_USER.json",
        "post": "oneaccess/plain/CREATE_ORGANIZATION.json",
    },
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"cargo-lambda-emulator: {what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"cargo-lambda-emulator: {what} did not listen on 127.0.0.1:{port}")


def run(args, what, function=None, function_log=None):
    """Runs `args` to completion (at most STEP_TIMEOUT); fails at once if `function` exits."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT,
                                   stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STEP_TIMEOUT
        while process.poll() is None:
            if function is not None and function.poll() is not None:
                process.kill()
                sys.exit(f"cargo-lambda-emulator: {what}: the function exited "
                         f"({function.returncode}):\n{Path(function_log).read_text()}")
            if time.monotonic() > deadline:
                process.kill()
                sys.exit(f"cargo-lambda-emulator: {what}: no answer within {STEP_TIMEOUT} s")
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if process.returncode != 0:
            sys.exit(f"cargo-lambda-emulator: {what} failed ({process.returncode}):\n"
                     f"{stdout}\n{err.read()}")
        return stdout


def stored(s3, provider):
    """The delivered events: not the state objects, and not Knox's quarantine, where a
    callback of an unlisted subscription would go."""
    answer = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{provider}/")
    return sorted(o["Key"] for o in answer.get("Contents", [])
                  if "/_state/" not in o["Key"] and "/_quarantine/" not in o["Key"])


def subscription_ids(spec):
    """The subscriptions of the Knox samples sent, so their callbacks are delivered."""
    return ",".join(json.loads(json.loads((ROOT / "events" / spec[name]).read_text())["body"])
                    ["subscriptionId"] for name in ("invoke", "post"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", default="target/debug")
    parser.add_argument("--cli", default="target/debug/hookwarden")
    options = parser.parse_args()
    functions = (ROOT / options.functions).resolve()
    cli = (ROOT / options.cli).resolve()
    if shutil.which("cargo-lambda") is None:
        sys.exit("cargo-lambda-emulator: needs cargo-lambda (pip install cargo-lambda)")

    processes = []
    logs = tempfile.TemporaryDirectory()
    try:
        moto_port = free_port()
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(moto)
        wait_for_port(moto_port, moto, "moto")
        endpoint = f"http://127.0.0.1:{moto_port}"
        aws = dict(endpoint_url=endpoint, region_name=REGION,
                   aws_access_key_id="testing", aws_secret_access_key="testing")
        s3 = boto3.client("s3", **aws)
        s3.create_bucket(Bucket=BUCKET)
        keys = ROOT / "events" / "test-keys"
        s3.put_object(Bucket=BUCKET, Key=PROVIDERS["knox"]["env"]["KNOX_CERT_KEY"],
                      Body=(keys / "knox-test-cert.pem").read_bytes())
        secrets = boto3.client("secretsmanager", **aws)
        secrets.create_secret(Name="hookwarden/scalefusion",
                              SecretString=(keys / "scalefusion-secret.json").read_text())
        secrets.create_secret(Name="hookwarden/oneaccess",
                              SecretString=(keys / "oneaccess-plain.json").read_text())

        # OneAccess samples carry a time that must be within the replay window: fresh copies.
        events = Path(logs.name) / "events"
        shutil.copytree(ROOT / "events", events)
        run([str(cli), "events", "regenerate", "--dir", str(events), "--fresh"],
            "hookwarden events regenerate --fresh")

        for provider, spec in PROVIDERS.items():
            port = free_port()
            log = open(Path(logs.name) / f"{provider}-watch.log", "w")
            watch = subprocess.Popen(
                ["cargo", "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
                 "-A", "127.0.0.1", "-P", str(port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            processes.append(watch)
            wait_for_port(port, watch, "cargo lambda watch")
            env = {
                "PATH": os.environ.get("PATH", ""),
                # What cargo-lambda's emulator sets: the Runtime API under a path prefix.
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt",
                "AWS_LAMBDA_FUNCTION_NAME": "_",
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL": endpoint,
                "HOOKWARDEN_SINK": "s3",
                "HOOKWARDEN_BUCKET": BUCKET,
                **spec["env"],
            }
            if provider == "knox":
                env["KNOX_SUBSCRIPTION_IDS"] = subscription_ids(spec)
            function_log = Path(logs.name) / f"{provider}-function.log"
            function = subprocess.Popen(
                [str(functions / f"{provider}-webhook")], env=env, cwd=ROOT,
                stdout=open(function_log, "w"), stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
            processes.append(function)

            def check(before, what):
                after = stored(s3, provider)
                if len(after) != len(before) + 1:
                    print(function_log.read_text(), file=sys.stderr)
                    sys.exit(f"cargo-lambda-emulator: {provider}: {what} stored "
                             f"{len(after) - len(before)} events, expected 1")
                return after

            before = stored(s3, provider)
            output = run(["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(port),
                          "--data-file", str(events / spec["invoke"]), "-o", "json", "_"],
                         f"{provider}: cargo lambda invoke", function, function_log)
            response = json.loads(output)
            if response.get("statusCode") != 200:
                sys.exit(f"cargo-lambda-emulator: {provider}: invoke answered {output}")
            before = check(before, "cargo lambda invoke")
            print(f"{provider}: cargo lambda invoke --data-file events/{spec['invoke']}: 200, stored")

            url = f"http://127.0.0.1:{port}/lambda-url/_/"
            output = run([str(cli), "send", provider, str(events / spec["post"]), "--to", url],
                         f"{provider}: POST to {url}", function, function_log)
            check(before, f"POST to {url}")
            print(f"{provider}: POST {url} (events/{spec['post']}, signed afresh): "
                  f"{output.strip().splitlines()[-1] if output.strip() else 'ok'}, stored")

            function.kill()
            watch.terminate()
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        logs.cleanup()


if __name__ == "__main__":
    main()
