"""A small Samsung Knox webhook receiver in Python, doing the job knox-webhook does, so the two
can be measured side by side (bench/run.sh). Not part of the product.

Same inputs and outputs as knox-webhook with HOOKWARDEN_SINK=s3:
- the Lambda Runtime API loop (GET .../invocation/next, POST .../{id}/response) over one
  kept-alive http.client connection, as a lean custom runtime would (the managed Python
  runtime adds its own bootstrap on top, so this reference errs in Python's favour);
- at cold start: one boto3 S3 client (path-style, 2 attempts, 1 s connect timeout, like the
  Rust client) and the Knox validation certificate read from S3 (KNOX_CERT_KEY), parsed
  with cryptography;
- per event: function URL event -> body (base64 undone) -> X-WSM-SIGNATURE split in three
  -> canonical JSON -> base64url with padding -> RSASSA-PKCS1-v1_5/SHA-256 verification with
  the certificate's key -> dedupe record put with If-None-Match: * -> envelope put with
  If-None-Match: * -> one JSON log line -> reply.

Difference, on purpose: the canonical form is `json.dumps(separators=(",", ":"))` of the parsed
body, not Jackson's (Java HashMap key order at the top level, Java `Double.toString` numbers).
The benchmark sends bodies that are already in Jackson's canonical form, for which both give
the same bytes; the cost of Python's stand-in is lower than a faithful port's would be.
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PREFIX_RUNTIME = "/2018-06-01/runtime"
SAFE_ID = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")


def log(**fields):
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def safe_id(value):
    if value and len(value) <= 200 and value not in (".", "..") and set(value) <= SAFE_ID:
        return value
    return None


def b64url_decode_lenient(text):
    # java.util.Base64 URL decoder: padding optional.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Receiver:
    def __init__(self):
        self.bucket = os.environ["HOOKWARDEN_BUCKET"]
        self.prefix = os.environ.get("HOOKWARDEN_PREFIX") or "knox"
        cert_bucket = os.environ.get("KNOX_CERT_BUCKET") or self.bucket
        timeout = int(os.environ.get("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS") or 3000) / 1000
        self.s3 = boto3.client(
            "s3",
            config=Config(
                connect_timeout=min(timeout, 1.0),
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )
        pem = self.s3.get_object(Bucket=cert_bucket, Key=os.environ["KNOX_CERT_KEY"])["Body"].read()
        cert = (
            x509.load_pem_x509_certificate(pem)
            if pem.startswith(b"-----BEGIN")
            else x509.load_der_x509_certificate(pem)
        )
        self.not_before = cert.not_valid_before_utc
        self.not_after = cert.not_valid_after_utc
        self.public_key = cert.public_key()
        self.fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    def handle(self, event):
        started = time.perf_counter()
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        if event["requestContext"]["http"]["method"] != "POST":
            return 405, {"error": "only POST is accepted"}
        signature = headers.get("x-wsm-signature")
        if signature is None:
            return 401, {"error": "missing X-WSM-SIGNATURE header"}
        trace = headers.get("x-wsm-traceid")
        delivery_id = safe_id(trace) if trace is not None else hashlib.sha256(body).hexdigest()
        if delivery_id is None:
            return 400, {"error": "bad X-WSM-TRACEID"}
        parts = signature.split(".")
        if len(parts) != 3:
            return 400, {"error": "X-WSM-SIGNATURE is not a compact JWS"}
        now = datetime.datetime.now(datetime.timezone.utc)
        if not (self.not_before <= now <= self.not_after):
            return 503, {"error": "temporarily unavailable, retry later"}
        try:
            parsed = json.loads(body)
            canonical = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
            signed = parts[0].encode() + b"." + base64.urlsafe_b64encode(canonical)
            self.public_key.verify(
                b64url_decode_lenient(parts[2]), signed, padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return 401, {"error": "signature does not verify"}
        event_type = parsed.get("event") if isinstance(parsed, dict) else None
        segment = safe_id((event_type or "").strip()) or "unknown"
        event_key = "%s/%s/%04d/%02d/%02d/%s.json" % (
            self.prefix, segment, now.year, now.month, now.day, delivery_id
        )
        claim = json.dumps({"delivery_id": delivery_id, "event_key": event_key}, separators=(",", ":"))
        status = "stored"
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key="%s/_state/ids/%s" % (self.prefix, delivery_id),
                Body=claim.encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                return 503, {"error": "temporarily unavailable, retry later"}
            status = "duplicate"
        envelope = {
            "id": delivery_id,
            "provider": "knox",
            "event_type": event_type or "unknown",
            "received_at": now.isoformat().replace("+00:00", "Z"),
            "verified_by": {"kind": "certificate", "sha256": self.fingerprint},
            "source_ip": event["requestContext"]["http"].get("sourceIp"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": parsed,
        }
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=event_key,
                Body=json.dumps(envelope, separators=(",", ":")).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                return 503, {"error": "temporarily unavailable, retry later"}
        log(
            level="INFO",
            message="request accepted",
            provider="knox",
            event_type=event_type,
            delivery_id=delivery_id,
            outcome=status,
            status=200,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return 200, {"status": status, "delivery_id": delivery_id}


def main():
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    receiver = Receiver()
    # One kept-alive connection to the Runtime API, as hookwarden's runtime loop keeps.
    runtime = http.client.HTTPConnection(api)
    # Bounded by the Runtime API: it ends when the process is killed, as on Lambda.
    while True:
        runtime.request("GET", PREFIX_RUNTIME + "/invocation/next")
        answer = runtime.getresponse()
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(answer.read())
        try:
            status, reply = receiver.handle(event)
        except Exception as err:  # a broken event gets a 500, the loop goes on
            log(level="ERROR", message="handler failed", error=type(err).__name__)
            status, reply = 500, {"error": "internal error"}
        response = json.dumps(
            {
                "statusCode": status,
                "headers": {"content-type": "application/json"},
                "body": json.dumps(reply, separators=(",", ":")),
            }
        ).encode()
        runtime.request(
            "POST",
            PREFIX_RUNTIME + "/invocation/" + request_id + "/response",
            body=response,
            headers={"Content-Type": "application/json"},
        )
        runtime.getresponse().read()


if __name__ == "__main__":
    main()
