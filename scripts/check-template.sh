#!/usr/bin/env bash
# Checks template.yaml without AWS access: cfn-lint, `sam validate --lint`, checkov, then a
# local SAM transform whose output is evaluated for several parameter sets and checked against
# the code (environment variables the functions read, binary names, the EMF metric) and
# against least privilege. Exits non-zero on any failure.
# Needs cfn-lint, aws-sam-cli (which brings samtranslator) and checkov: `bash .ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in cfn-lint sam checkov; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
python3 -c 'import samtranslator, yaml' 2>/dev/null || missing+=("python: samtranslator and PyYAML (pip install aws-sam-cli)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'check-template.sh: missing %s (bash .ci/run installs them)\n' "${missing[@]}" >&2
    exit 2
fi

# Everything runs offline: SAM's translator wants a region, nothing here calls AWS.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
export SAM_CLI_TELEMETRY=0
unset AWS_PROFILE AWS_SESSION_TOKEN

failed=()
run() {
    local name=$1
    shift
    echo "== $name"
    if "$@"; then echo "== $name: ok"; else echo "== $name: FAILED" >&2; failed+=("$name"); fi
}

run cfn-lint cfn-lint template.yaml
run "sam validate --lint" sam validate --lint --template-file template.yaml
# --skip-download: no Prisma Cloud guideline lookup (it needs the network and changes nothing).
# Accepted findings are skipped in each resource's Metadata, with the reason.
run checkov checkov --file template.yaml --framework cloudformation --skip-download --quiet --compact

run "transformed template" python3 - <<'PY'
"""Transforms template.yaml with SAM's translator, resolves it for several parameter sets
and checks what each function can do and is told."""
import copy
import fnmatch
import glob
import re
import sys

import yaml
from samtranslator.translator.transform import transform

errors = []


def check(ok, message):
    if not ok:
        errors.append(message)


class CfnLoader(yaml.SafeLoader):
    pass


def short_form(tag):
    name = "Ref" if tag == "Ref" else "Fn::" + tag

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for tag in ["Ref", "If", "Sub", "GetAtt", "Equals", "Not", "And", "Or", "Join", "Select", "Split"]:
    CfnLoader.add_constructor("!" + tag, short_form(tag))
CfnLoader.add_constructor("!Condition", lambda l, n: {"Condition": l.construct_scalar(n)})

with open("template.yaml") as f:
    template = yaml.load(f, Loader=CfnLoader)


class Policies:
    def load(self):
        return {}


# As `sam package` does: the code is uploaded and CodeUri becomes an S3 location.
packaged = copy.deepcopy(template)
packaged["Globals"]["Function"]["CodeUri"] = "s3://packaged/code.zip"
sam = transform(packaged, {}, Policies())
resources = sam["Resources"]

NOVALUE = object()
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::Partition": "aws", "AWS::StackName": "hw", "AWS::URLSuffix": "amazonaws.com"}


class Stack:
    """The template with one parameter set applied: a resource reference resolves to
    `<Name>` and an attribute to `<Name.Attr>`."""

    def __init__(self, overrides):
        self.params = {k: str(v.get("Default", "")) for k, v in sam["Parameters"].items()}
        self.params.update(overrides)
        self.conditions = {}
        for name in sam.get("Conditions", {}):
            self.condition(name)
        self.resources = {n: r for n, r in resources.items()
                          if "Condition" not in r or self.conditions[r["Condition"]]}

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.cond(sam["Conditions"][name])
        return self.conditions[name]

    def cond(self, node):
        (fn, arg), = node.items()
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            return str(self.value(arg[0])) == str(self.value(arg[1]))
        if fn == "Fn::Not":
            return not self.cond(arg[0])
        if fn == "Fn::And":
            return all(self.cond(c) for c in arg)
        if fn == "Fn::Or":
            return any(self.cond(c) for c in arg)
        raise ValueError(f"condition function {fn}")

    def ref(self, name):
        if name == "AWS::NoValue":
            return NOVALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        check(name in self.resources, f"Ref to {name}, which this parameter set does not create")
        return f"<{name}>"

    def sub(self, text, variables):
        def one(match):
            name = match.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name:
                return f"<{name}>"
            return str(self.ref(name))
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::GetAtt":
                name, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                check(name in self.resources, f"GetAtt on {name}, which this parameter set does not create")
                return f"<{name}.{attr}>"
            if fn == "Fn::Sub":
                return self.sub(arg, {}) if isinstance(arg, str) else self.sub(arg[0], arg[1])
            if fn == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
            if fn.startswith("Fn::"):
                raise ValueError(f"intrinsic {fn} is not evaluated here")
        out = {}
        for key, child in node.items():
            child = self.value(child)
            if child is not NOVALUE:
                out[key] = child
        return out

    def props(self, name):
        return self.value(self.resources[name].get("Properties", {}))

    def of_type(self, kind):
        return [n for n, r in self.resources.items() if r["Type"] == kind]


def as_list(x):
    return x if isinstance(x, list) else [x]


# The columns scripts/query-events.py gives DuckDB, with their Glue types.
import subprocess
def duckdb_columns(*table):
    return [tuple(line.split(" ", 1)) for line in subprocess.run(
        [sys.executable, "scripts/query-events.py", "--columns", *table], check=True,
        capture_output=True, text=True).stdout.splitlines()]


QUERY_COLUMNS = duckdb_columns()
ARCHIVE_COLUMNS = duckdb_columns("archive")
check(len(QUERY_COLUMNS) >= 10 and len(ARCHIVE_COLUMNS) >= 5,
      f"scripts/query-events.py --columns: {QUERY_COLUMNS} {ARCHIVE_COLUMNS}")

# --- what the configuration reference says -------------------------------------------------
# docs/reference/configuration.md: its settings tables are held to what the code reads by the
# Rust tests (settings.rs, the watchdog); here the template is held to the page.
REFERENCE = "docs/reference/configuration.md"
reference_tables, section, header = {}, "", None
for line in open(REFERENCE).read().splitlines():
    if line.startswith("## "):
        section = line[3:].strip()
    if not line.startswith("|"):
        header = None
        continue
    cells = [c.strip() for c in line.strip("|").split("|")]
    if header is None:
        header = tuple(cells)
        continue
    if not set(line) <= set("|-: "):
        reference_tables.setdefault((section, header), []).append(cells)
def reference_names(section_start, header):
    rows = [cells for (sec, head), rows in reference_tables.items() for cells in rows
            if sec.startswith(section_start) and head == header]
    return {m.group(1) for cells in rows for m in [re.match(r"`([A-Z0-9_]+)`", cells[0])] if m}
SETTINGS_HEADER = ("Variable", "Default", "Range", "Meaning")
code_vars = reference_names("The receivers", SETTINGS_HEADER)
watchdog_vars = reference_names("The silence watchdog", SETTINGS_HEADER)
check(len(code_vars) >= 13 and len(watchdog_vars) >= 3,
      f"{REFERENCE}: found only {sorted(code_vars)} and {sorted(watchdog_vars)}; did its tables move?")
# The template's mapping table: each variable it maps is a setting, each parameter it names is
# the template's, and every variable the template sets has its row.
mapping = [cells for (sec, head), rows in reference_tables.items() if head == ("Parameter", "Variable") for cells in rows]
mapped_vars = {re.match(r"`([A-Z0-9_]+)`", cells[1]).group(1) for cells in mapping}
mapped_params = {name for cells in mapping if not cells[0].startswith("—") for name in re.findall(r"`([A-Za-z0-9]+)`", cells[0])}
check(mapped_vars <= code_vars | watchdog_vars, f"{REFERENCE}: the mapping names {sorted(mapped_vars - code_vars - watchdog_vars)}, which no settings table lists")
check(mapped_params <= set(template["Parameters"]), f"{REFERENCE}: the mapping names parameters the template lacks: {sorted(mapped_params - set(template['Parameters']))}")
template_vars = set(template["Globals"]["Function"]["Environment"]["Variables"]) | {
    name for res in template["Resources"].values() if res.get("Type") == "AWS::Serverless::Function"
    for name in res.get("Properties", {}).get("Environment", {}).get("Variables", {})}
check(template_vars <= mapped_vars, f"template.yaml sets {sorted(template_vars - mapped_vars)}, which {REFERENCE}'s mapping table lacks")
binaries = set()
for manifest in glob.glob("functions/*/Cargo.toml"):
    binaries.update(re.findall(r'\[\[bin\]\]\s*\nname\s*=\s*"([^"]+)"', open(manifest).read()))
outcome_rs = open("crates/pipeline/src/outcome.rs").read()
# The alarms watch metrics that outcome.rs emits as EMF: namespace, dimension, and the name of
# each metric (Outcome::metric).
for needle in ['NAMESPACE: &str = "Hookwarden"', '"Namespace": NAMESPACE', 'json!([["Provider"]])',
               '"Name": metric', 'Some("SignatureRejected")', 'Some("Throttled")', 'Some("Quarantined")',
               'EVENTS_STORED: &str = "EventsStored"', '["Provider", "Tenant", "EventType"]']:
    check(needle in outcome_rs, f"outcome.rs no longer emits {needle}; update the Hookwarden alarms")
# The watchdog's heartbeat and count, which its two alarms watch.
watchdog_rs = open("functions/watchdog/src/main.rs").read()
for needle in ['DIMENSION: (&str, &str) = ("Watchdog", "streams")', '"WatchdogRuns": 1', '"SilentStreams": silent']:
    check(needle in watchdog_rs, f"functions/watchdog/src/main.rs no longer has {needle}; update the watchdog's template")
SILENCE = {"KnoxSilenceHours": "knox", "ScalefusionSilenceHours": "scalefusion", "OneAccessSilenceHours": "oneaccess"}

FUNCTIONS = {
    "KnoxFunction": ("knox", "knox-webhook", {"KNOX_CERT_BUCKET", "KNOX_CERT_KEY", "KNOX_API_SECRET_ID", "KNOX_SUBSCRIPTION_IDS",
                                              "KNOX_CERT_SPKI_SHA256", "KNOX_QUARANTINE_PER_MINUTE"}),
    "ScalefusionFunction": ("scalefusion", "scalefusion-webhook", {"SCALEFUSION_SECRET_ID"}),
    "OneAccessFunction": ("oneaccess", "oneaccess-webhook", {"ONEACCESS_SECRET_ID", "ONEACCESS_REPLAY_WINDOW_SECS"}),
}
COMMON = {"HOOKWARDEN_SINK", "HOOKWARDEN_BUCKET", "HOOKWARDEN_PREFIX", "HOOKWARDEN_EVENT_BUS",
          "HOOKWARDEN_MAX_BODY_BYTES", "HOOKWARDEN_SECRET_TTL_SECS", "HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "RUST_LOG",
          "HOOKWARDEN_TENANT_SECRET_PREFIX"}

for logical, (prefix, binary, own) in FUNCTIONS.items():
    meta = template["Resources"][logical].get("Metadata", {})
    check(meta.get("BuildMethod") == "rust-cargolambda", f"{logical}: BuildMethod is not rust-cargolambda")
    check(meta.get("BuildProperties", {}).get("Binary") == binary, f"{logical}: BuildProperties.Binary is not {binary}")
    check(binary in binaries, f"{logical}: no [[bin]] named {binary} in functions/*/Cargo.toml")
watchdog_meta = template["Resources"]["WatchdogFunction"].get("Metadata", {})
check(watchdog_meta.get("BuildProperties", {}).get("Binary") == "silence-watchdog" and "silence-watchdog" in binaries,
      "WatchdogFunction: BuildProperties.Binary is not the silence-watchdog binary")

# R2: secure by default. With KNOX_SUBSCRIPTION_IDS empty the Knox handler quarantines every
# verified callback (nothing delivered) and no setting turns "accept any subscription" on; the
# template's default leaves the list empty, so a fresh stack quarantines, within a budget
# (KNOX_QUARANTINE_PER_MINUTE), with a lifecycle expiry and an alarm (checked per parameter
# set below).
knox_rs = open("crates/pipeline/src/providers/knox.rs").read()
check(re.search(r"if self\.subscriptions\.is_empty\(\) \{\s*return self\s*\.quarantine\(", knox_rs) is not None,
      "providers/knox.rs no longer quarantines when no subscription is listed")
check(not [v for v in code_vars if "ACCEPT" in v or "ANY" in v],
      f"settings.rs reads a variable that may accept any subscription: {sorted(code_vars)}")
defaults = template["Parameters"]
check(defaults["KnoxSubscriptionIds"].get("Default") == "", "KnoxSubscriptionIds must default to empty (quarantine)")
budget = defaults.get("KnoxQuarantinePerMinute", {})
check(1 <= int(budget.get("Default", 0)) <= int(budget.get("MaxValue", 0)) <= 10000,
      "KnoxQuarantinePerMinute: a default budget within 1..=10000")

# --- parameter sets --------------------------------------------------------------------
KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-111122223333"
SF = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sf-AbCdEf"
OA = "arn:aws:secretsmanager:us-east-1:123456789012:secret:oa-AbCdEf"
KA = "arn:aws:secretsmanager:us-east-1:123456789012:secret:knox-api-AbCdEf"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"
SCENARIOS = {
    "defaults": {},
    # A bus name with the s3 sink must not reach the functions: they refuse a bus without
    # the eventbridge sink.
    "s3 sink, bus name given anyway": {"ExistingEventBusName": "default"},
    "created bus, KMS, created Knox API secret, own certificate bucket": {
        "Sink": "s3,eventbridge", "KmsKeyArn": KEY, "KnoxApiSecret": "create",
        "KnoxCertificateBucket": "certs-bucket", "KnoxCertificateKey": "kwn/cert.pem",
        "KnoxSubscriptionIds": "123456789123,566797f70f280325c20ff234",
        "ReservedConcurrency": "5", "AlarmEmail": "ops@example.com", "Tenants": "enabled",
        "KnoxSilenceHours": "4", "ScalefusionSilenceHours": "24",
        "StreamCadences": "knox/*/KAI_BATTERY_STATUS=4h,knox/acme/*=1d"},
    "existing bus and secrets": {
        "Sink": "eventbridge", "ExistingEventBusName": "default", "ScalefusionSecretArn": SF,
        "OneAccessSecretArn": OA, "KnoxApiSecret": KA, "AlarmTopicArn": TOPIC,
        "AlarmEmail": "ignored@example.com", "ArchiveStream": "true", "OneAccessSilenceHours": "168",
        "StreamCadences": "scalefusion/*/*=1d"},
    "archive stream on a created bus with KMS, no per-object table": {
        "Sink": "s3,eventbridge", "KmsKeyArn": KEY, "ArchiveStream": "true",
        "EventsQueryTable": "false"},
    # The archive needs the bus: with the s3 sink it is not created.
    "s3 sink, archive stream asked for": {"ArchiveStream": "true"},
    # Watched streams with no alarm topic: the watchdog logs and counts, it may publish nowhere.
    "watchdog without a topic": {"StreamCadences": "knox/*/KAI_APP_ANR_FC=2h", "KnoxSilenceHours": "1"},
    # The old default key, inside the Knox event prefix: the explicit Deny still keeps the
    # role from writing it (A4). Two pins, as during a key rotation.
    "certificate under knox/, no Knox API, two pins": {
        "Sink": "eventbridge", "KnoxCertificateKey": "knox/_certificate/knox-validation.pem",
        "KnoxCertificateSpkiSha256": "c7bd4723b0358695a301338180fc0d296aeb4973c3c1d88dd7ef197dfdd23527," + "ab" * 32},
}

# Rules: a Knox API secret needs a key pin (a download is accepted only under one).
def rule_holds(stack, rule):
    if "RuleCondition" in rule and not stack.cond(rule["RuleCondition"]):
        return True
    return all(stack.cond(a["Assert"]) for a in rule["Assertions"])


rules = template.get("Rules", {})
check("KnoxDownloadNeedsPin" in rules, "no KnoxDownloadNeedsPin rule")
for overrides, holds in [({"KnoxApiSecret": "create", "KnoxCertificateSpkiSha256": ""}, False),
                         ({"KnoxApiSecret": "", "KnoxCertificateSpkiSha256": ""}, True),
                         ({"KnoxApiSecret": KA}, True)]:
    check(rule_holds(Stack(overrides), rules.get("KnoxDownloadNeedsPin", {"Assertions": []})) == holds,
          f"KnoxDownloadNeedsPin with {overrides} should {'hold' if holds else 'fail'}")
for scenario, overrides in SCENARIOS.items():
    for name, rule in rules.items():
        check(rule_holds(Stack(overrides), rule), f"[{scenario}] rule {name} fails")

for scenario, overrides in SCENARIOS.items():
    stack = Stack(overrides)
    p = stack.params
    eventbridge = p["Sink"] != "s3"
    bus_arn = None
    if eventbridge:
        bus_arn = ("<EventBus.Arn>" if p["ExistingEventBusName"] == "" else
                   f"arn:aws:events:us-east-1:123456789012:event-bus/{p['ExistingEventBusName']}")
    secrets = {
        "ScalefusionFunction": p["ScalefusionSecretArn"] or "<ScalefusionSecret>",
        "OneAccessFunction": p["OneAccessSecretArn"] or "<OneAccessSecret>",
        "KnoxFunction": {"": None, "create": "<KnoxApiSecretResource>"}.get(p["KnoxApiSecret"], p["KnoxApiSecret"]),
    }
    cert_bucket = p["KnoxCertificateBucket"] or "<EventsBucket>"
    cert_object = f"arn:aws:s3:::{cert_bucket}/{p['KnoxCertificateKey']}"
    created_secrets = {n for n in stack.of_type("AWS::SecretsManager::Secret")}
    want_secrets = {n for n, cond in [("ScalefusionSecret", not p["ScalefusionSecretArn"]),
                                       ("OneAccessSecret", not p["OneAccessSecretArn"]),
                                       ("KnoxApiSecretResource", p["KnoxApiSecret"] == "create")] if cond}
    check(created_secrets == want_secrets, f"[{scenario}] secrets created: {sorted(created_secrets)}, expected {sorted(want_secrets)}")
    check(bool(stack.of_type("AWS::Events::EventBus")) == (eventbridge and not p["ExistingEventBusName"]),
          f"[{scenario}] event bus created or missing wrongly")

    for logical, (prefix, binary, own) in FUNCTIONS.items():
        where = f"[{scenario}] {logical}"
        fn = stack.props(logical)
        env = fn.get("Environment", {}).get("Variables", {})
        check(set(env) == COMMON | own, f"{where}: environment {sorted(env)} != {sorted(COMMON | own)}")
        unknown = set(env) - code_vars
        check(not unknown, f"{where}: {REFERENCE} lists no receiver setting {sorted(unknown)}")
        tenant_prefix = f"hw/tenants/{prefix}/" if p["Tenants"] == "enabled" else ""
        check(env.get("HOOKWARDEN_TENANT_SECRET_PREFIX") == tenant_prefix,
              f"{where}: HOOKWARDEN_TENANT_SECRET_PREFIX {env.get('HOOKWARDEN_TENANT_SECRET_PREFIX')!r}")
        check(env.get("HOOKWARDEN_PREFIX") == prefix, f"{where}: HOOKWARDEN_PREFIX {env.get('HOOKWARDEN_PREFIX')!r}")
        check(env.get("HOOKWARDEN_SINK") == p["Sink"], f"{where}: HOOKWARDEN_SINK")
        check(env.get("HOOKWARDEN_BUCKET") == "<EventsBucket>", f"{where}: HOOKWARDEN_BUCKET")
        # settings.rs refuses a bus without the eventbridge sink and requires one with it.
        bus = env.get("HOOKWARDEN_EVENT_BUS")
        check(bool(bus) == eventbridge, f"{where}: HOOKWARDEN_EVENT_BUS {bus!r} with sink {p['Sink']}")
        if logical == "KnoxFunction":
            check(env["KNOX_CERT_BUCKET"] == cert_bucket and env["KNOX_CERT_KEY"] == p["KnoxCertificateKey"], f"{where}: certificate location")
            check(env["KNOX_API_SECRET_ID"] == (secrets[logical] or ""), f"{where}: KNOX_API_SECRET_ID {env['KNOX_API_SECRET_ID']!r}")
            check(env["KNOX_SUBSCRIPTION_IDS"] == p["KnoxSubscriptionIds"], f"{where}: KNOX_SUBSCRIPTION_IDS {env['KNOX_SUBSCRIPTION_IDS']!r}")
            check(env.get("KNOX_QUARANTINE_PER_MINUTE") == p.get("KnoxQuarantinePerMinute", "unset"),
                  f"{where}: KNOX_QUARANTINE_PER_MINUTE {env.get('KNOX_QUARANTINE_PER_MINUTE')!r}")
            check(env["KNOX_CERT_SPKI_SHA256"] == p["KnoxCertificateSpkiSha256"], f"{where}: KNOX_CERT_SPKI_SHA256 {env['KNOX_CERT_SPKI_SHA256']!r}")
        else:
            secret_var = "SCALEFUSION_SECRET_ID" if logical == "ScalefusionFunction" else "ONEACCESS_SECRET_ID"
            check(env[secret_var] == secrets[logical], f"{where}: {secret_var} {env[secret_var]!r}")
        check(fn.get("Architectures") == ["arm64"] and fn.get("Runtime") == "provided.al2023"
              and fn.get("Handler") == "bootstrap" and fn.get("Timeout") == 10, f"{where}: runtime settings")
        reserved = fn.get("ReservedConcurrentExecutions")
        check(reserved == (None if p["ReservedConcurrency"] == "0" else p["ReservedConcurrency"]),
              f"{where}: ReservedConcurrentExecutions {reserved!r}")
        log_group = fn.get("LoggingConfig", {}).get("LogGroup")
        check(log_group and stack.props(log_group.strip("<>")).get("RetentionInDays") == p["LogRetentionDays"],
              f"{where}: log group or retention")

        # The function URL and both permissions a public URL needs since October 2025.
        urls = [stack.props(n) for n in stack.of_type("AWS::Lambda::Url")]
        check(len(urls) == len(FUNCTIONS), f"{where}: {len(urls)} function URLs, expected one per webhook function")
        check([u["AuthType"] for u in urls if u["TargetFunctionArn"] == f"<{logical}>"] == ["NONE"], f"{where}: one function URL, AuthType NONE")
        perms = [stack.props(n) for n in stack.of_type("AWS::Lambda::Permission")]
        mine = {(q["Action"], q.get("FunctionUrlAuthType"), q.get("InvokedViaFunctionUrl"), q["Principal"])
                for q in perms if q["FunctionName"] == f"<{logical}>"}
        check(mine == {("lambda:InvokeFunctionUrl", "NONE", None, "*"), ("lambda:InvokeFunction", None, True, "*")},
              f"{where}: URL permissions {sorted(mine, key=str)}")

        # Least privilege: exactly these grants, nothing on "*".
        role = stack.props(fn["Role"].strip("<>").split(".")[0])
        statements = [s for pol in role["Policies"] for s in pol["PolicyDocument"]["Statement"]]
        grants, denials = {}, {}
        for s in statements:
            check(s["Effect"] in ("Allow", "Deny"), f"{where}: unexpected {s['Effect']} statement")
            for action in as_list(s["Action"]):
                for resource in as_list(s["Resource"]):
                    check("*" != resource and not resource.endswith(":*") or action.startswith("logs:"),
                          f"{where}: {action} on {resource}")
                    (grants if s["Effect"] == "Allow" else denials).setdefault(action, set()).add(
                        (resource, repr(s.get("Condition"))))
        own_objects = f"<EventsBucket.Arn>/{prefix}/*"
        # Every event write is a create (If-None-Match: *): the role cannot overwrite (A15).
        create_only = repr({"StringEquals": {"s3:if-none-match": "*"}})
        expected = {
            "logs:CreateLogStream": {(f"<{log_group.strip('<>')}.Arn>", "None")},
            "logs:PutLogEvents": {(f"<{log_group.strip('<>')}.Arn>", "None")},
            "s3:GetObject": {(own_objects, "None")},
            "s3:PutObject": {(own_objects, create_only)},
            # Unconditional: a GET or HEAD carries no s3:prefix, so only a plain grant makes
            # S3 answer 404 for a missing key (review B1).
            "s3:ListBucket": {("<EventsBucket.Arn>", "None")},
        }
        if logical == "KnoxFunction":
            expected["s3:GetObject"].add((cert_object, "None"))
            if secrets[logical]:
                expected["s3:PutObject"].add((cert_object, "None"))
            expected["s3:ListBucket"].add((f"arn:aws:s3:::{cert_bucket}",
                                           repr({"StringEquals": {"s3:prefix": [p["KnoxCertificateKey"]]}})))
        if secrets[logical]:
            expected["secretsmanager:GetSecretValue"] = {(secrets[logical], "None")}
        if p["Tenants"] == "enabled":
            # One pattern per provider, never another provider's tenants.
            expected.setdefault("secretsmanager:GetSecretValue", set()).add(
                (f"arn:aws:secretsmanager:us-east-1:123456789012:secret:hw/tenants/{prefix}/*", "None"))
        if eventbridge:
            # Only under its own sources: no function publishes as another provider (A15); a
            # tenant's events have their own source (R6).
            sources = ([f"hookwarden.{prefix}", f"hookwarden.{prefix}.tenant"] if p["Tenants"] == "enabled"
                       else f"hookwarden.{prefix}")
            expected["events:PutEvents"] = {(bus_arn, repr({"StringEquals": {"events:source": sources}}))}
        if p["KmsKeyArn"]:
            expected["kms:Decrypt"] = {(KEY, "None")}
            expected["kms:GenerateDataKey"] = {(KEY, "None")}
        check(grants == expected, f"{where}: role grants\n  got      {sorted(grants.items())}\n  expected {sorted(expected.items())}")
        # R5: no role lists keys by prefix (another provider's, a tenant's); a HEAD carries
        # no s3:prefix, so the Deny leaves missing keys 404.
        expected_denials = {"s3:ListBucket": {("<EventsBucket.Arn>", repr({"Null": {"s3:prefix": "false"}}))}}
        if logical == "KnoxFunction":
            expected_denials["s3:PutObject"] = {(f"<EventsBucket.Arn>/{prefix}/_certificates/*", "None")}
            if not secrets[logical]:
                expected_denials["s3:PutObject"].add((cert_object, "None"))
        check(denials == expected_denials, f"{where}: role denials {sorted(denials.items())} != {sorted(expected_denials.items())}")

        # A4: the trust anchor is writable exactly when the download is configured. Resource
        # patterns are matched as IAM matches them (`*` spans `/`), over the resolved ARNs.
        if logical == "KnoxFunction":
            def arn(resource):
                return resource.replace("<EventsBucket.Arn>", "arn:aws:s3:::<EventsBucket>")
            allowing = [r for r, _ in grants.get("s3:PutObject", ()) if fnmatch.fnmatchcase(cert_object, arn(r))]
            denying = [r for r, c in denials.get("s3:PutObject", ())
                       if c == "None" and fnmatch.fnmatchcase(cert_object, arn(r))]
            writable = bool(allowing) and not denying
            check(writable == bool(secrets[logical]),
                  f"{where}: certificate {cert_object} writable={writable} (allowed by {allowing}, denied by {denying}), "
                  f"expected {bool(secrets[logical])}")
            if not secrets[logical] and not p["KnoxCertificateKey"].startswith(f"{prefix}/"):
                check(not allowing, f"{where}: an Allow statement grants s3:PutObject on the certificate: {allowing}")
            # R5: a tenant's trust anchor is never created by the role.
            anchor = f"arn:aws:s3:::<EventsBucket>/{prefix}/_certificates/x.pem"
            allowing = [r for r, _ in grants.get("s3:PutObject", ()) if fnmatch.fnmatchcase(anchor, arn(r))]
            denying = [r for r, c in denials.get("s3:PutObject", ())
                       if c == "None" and fnmatch.fnmatchcase(anchor, arn(r))]
            check(not allowing or denying, f"{where}: the role may create tenant anchor {anchor} (allowed by {allowing}, no Deny)")

    # The bucket: private, TLS only, encrypted as asked.
    bucket = stack.props("EventsBucket")
    check(all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4,
          f"[{scenario}] public access block")
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    check(sse == ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY} if p["KmsKeyArn"] else {"SSEAlgorithm": "AES256"}),
          f"[{scenario}] bucket encryption {sse}")
    deny = stack.props("EventsBucketPolicy")["PolicyDocument"]["Statement"]
    check(any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny),
          f"[{scenario}] no TLS-only bucket policy")
    for name in stack.of_type("AWS::SecretsManager::Secret"):
        check(stack.props(name).get("KmsKeyId") == (KEY if p["KmsKeyArn"] else None), f"[{scenario}] {name} KMS key")

    # R2: the quarantine expires, and the bucket keeps it out of every other rule's reach.
    rules_ = bucket.get("LifecycleConfiguration", {}).get("Rules", [])
    quarantine = [r for r in rules_ if r.get("Prefix") == "knox/_quarantine/" and r.get("Status") == "Enabled"]
    check(len(quarantine) == 1 and quarantine[0].get("ExpirationInDays") == p.get("KnoxQuarantineDays", "unset"),
          f"[{scenario}] no lifecycle rule expiring knox/_quarantine/ after KnoxQuarantineDays: {rules_}")

    # Alarms: four per function, Knox's quarantine, a silence alarm per provider with a
    # window, two for the watchdog; all wired to the topic when one is configured.
    actions = [TOPIC] if p["AlarmTopicArn"] else (["<AlarmTopic>"] if p["AlarmEmail"] else [])
    alarms = [stack.props(n) for n in stack.of_type("AWS::CloudWatch::Alarm")]
    watched = {prefix: int(p[param]) for param, prefix in SILENCE.items() if p[param] != "0"}
    watchdog = p["StreamCadences"] != ""
    want = 13 + len(watched) + (2 if watchdog else 0)
    check(len(alarms) == want, f"[{scenario}] {len(alarms)} alarms, expected {want}")
    silence = {}
    for alarm in alarms:
        if alarm["MetricName"] == "EventsStored":
            dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            silence[dims.get("Provider")] = alarm
            hours = watched.get(dims.get("Provider"))
            where = f"[{scenario}] silence alarm for {dims}"
            check(set(dims) == {"Provider"} and hours is not None, f"{where}: not for a provider with a window")
            check(alarm["TreatMissingData"] == "breaching", f"{where}: missing data must be breaching")
            check((alarm["Namespace"], alarm["Statistic"], alarm["Period"], alarm["Threshold"], alarm["ComparisonOperator"])
                  == ("Hookwarden", "Sum", 3600, 1, "LessThanThreshold"), f"{where}: not \"under 1 event an hour\"")
            check(str(alarm["EvaluationPeriods"]) == str(alarm["DatapointsToAlarm"]) == str(hours),
                  f"{where}: window {alarm['EvaluationPeriods']}/{alarm['DatapointsToAlarm']} h is not the parameter's {hours}")
            check(alarm["Period"] * int(alarm["EvaluationPeriods"]) <= 7 * 86400, f"{where}: longer than CloudWatch's 7 days")
    check(set(silence) == set(watched), f"[{scenario}] silence alarms for {sorted(silence)}, expected {sorted(watched)}")
    beats = [a for a in alarms if a["MetricName"] == "WatchdogRuns"]
    check(len(beats) == (1 if watchdog else 0), f"[{scenario}] {len(beats)} watchdog heartbeat alarms")
    for beat in beats:
        check(beat["TreatMissingData"] == "breaching" and beat["ComparisonOperator"] == "LessThanThreshold"
              and beat["Namespace"] == "Hookwarden" and beat["Dimensions"] == [{"Name": "Watchdog", "Value": "streams"}],
              f"[{scenario}] the heartbeat alarm must fire on missing runs: {beat}")
    check(("WatchdogFunction" in stack.resources) == watchdog,
          f"[{scenario}] watchdog created or missing wrongly")
    if watchdog:
        fn = stack.props("WatchdogFunction")
        env = fn["Environment"]["Variables"]
        # Globals give every function the receivers' variables; the watchdog's own are its table's.
        own = set(env) - set(template["Globals"]["Function"]["Environment"]["Variables"])
        check(own <= watchdog_vars, f"[{scenario}] watchdog: {REFERENCE} lists no watchdog setting {sorted(own - watchdog_vars)}")
        check(env.get("HOOKWARDEN_STREAM_CADENCES") == p["StreamCadences"], f"[{scenario}] watchdog cadences {env}")
        check(env.get("HOOKWARDEN_ALARM_TOPIC") == (actions[0] if actions else ""), f"[{scenario}] watchdog topic {env}")
        check("ReservedConcurrentExecutions" not in fn, f"[{scenario}] the watchdog takes reserved concurrency")
        role = stack.props("WatchdogRole")
        grants = {}
        for st in (s for pol in role["Policies"] for s in pol["PolicyDocument"]["Statement"]):
            check(st["Effect"] == "Allow", f"[{scenario}] watchdog: unexpected {st['Effect']}")
            for action in as_list(st["Action"]):
                grants.setdefault(action, set()).update(as_list(st["Resource"]))
        expected = {"logs:CreateLogStream": {"<WatchdogLogGroup.Arn>"}, "logs:PutLogEvents": {"<WatchdogLogGroup.Arn>"},
                    "cloudwatch:ListMetrics": {"*"}, "cloudwatch:GetMetricData": {"*"}}
        if actions:
            expected["sns:Publish"] = set(actions)
        check(grants == expected, f"[{scenario}] watchdog grants {grants} != {expected}")
    seen = set()
    for alarm in alarms:
        check(alarm.get("AlarmActions") == actions, f"[{scenario}] alarm actions {alarm.get('AlarmActions')} != {actions}")
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        seen.add((alarm["Namespace"], alarm["MetricName"], tuple(sorted(dims.items()))))
    for logical, (prefix, _, _) in FUNCTIONS.items():
        for metric in ("Url4xxCount", "Url5xxCount"):
            check(("AWS/Lambda", metric, (("FunctionName", f"<{logical}>"),)) in seen, f"[{scenario}] no {metric} alarm for {logical}")
        for metric in ("SignatureRejected", "Throttled"):
            check(("Hookwarden", metric, (("Provider", prefix),)) in seen, f"[{scenario}] no {metric} alarm for {prefix}")
    check(("Hookwarden", "Quarantined", (("Provider", "knox"),)) in seen, f"[{scenario}] no Quarantined alarm for knox")

    # Query tables (docs/guides/finding-and-replaying-events.md): the per-object table has
    # the columns DuckDB reads in scripts/query-events.py; the archive exists only with a bus.
    tables = {stack.props(n)["TableInput"]["Name"]: stack.props(n)["TableInput"]
              for n in stack.of_type("AWS::Glue::Table")}
    want_query = p["EventsQueryTable"] == "true"
    want_archive = p["ArchiveStream"] == "true" and p["Sink"] != "s3"
    check(sorted(tables) == sorted((["events"] if want_query else []) + (["archive"] if want_archive else [])),
          f"[{scenario}] Glue tables {sorted(tables)}")
    check(len(stack.of_type("AWS::Glue::Database")) == int(want_query or want_archive),
          f"[{scenario}] Glue database")
    if want_query:
        sd = tables["events"]["StorageDescriptor"]
        check(sd["Location"] == "s3://<EventsBucket>/", f"[{scenario}] query table location {sd['Location']}")
        check(sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
              and sd["SerdeInfo"]["Parameters"] == {"ignore.malformed.json": "true"},
              f"[{scenario}] query table SerDe {sd['SerdeInfo']}")
        columns = [(c["Name"], c["Type"]) for c in sd["Columns"]]
        check(columns == QUERY_COLUMNS,
              f"[{scenario}] query table columns\n  template {columns}\n  duckdb   {QUERY_COLUMNS}")
    firehose = stack.of_type("AWS::KinesisFirehose::DeliveryStream")
    check(len(firehose) == int(want_archive), f"[{scenario}] archive stream {firehose}")
    if want_archive:
        dest = stack.props("ArchiveDeliveryStream")["ExtendedS3DestinationConfiguration"]
        check(dest["BucketARN"] == "<ArchiveBucket.Arn>" and dest["CompressionFormat"] == "GZIP"
              and dest["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
              and {"Type": "AppendDelimiterToRecord"} in dest["ProcessingConfiguration"]["Processors"],
              f"[{scenario}] archive stream destination {dest}")
        archive = tables["archive"]
        columns = [(c["Name"], c["Type"]) for c in archive["StorageDescriptor"]["Columns"]]
        check(columns == ARCHIVE_COLUMNS,
              f"[{scenario}] archive table columns\n  template {columns}\n  duckdb   {ARCHIVE_COLUMNS}")
        check(archive["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"mapping.detail_type": "detail-type"},
              f"[{scenario}] archive table SerDe {archive['StorageDescriptor']['SerdeInfo']}")
        check(archive["Parameters"]["storage.location.template"] == "s3://<ArchiveBucket>/events/dt=${!dt}/"
              and archive["PartitionKeys"] == [{"Name": "dt", "Type": "string"}],
              f"[{scenario}] archive table partitions {archive['Parameters']}")
        rule = stack.props("ArchiveRule")
        check(rule["EventBusName"] == bus_arn and rule["EventPattern"] == {"source": [{"prefix": "hookwarden."}]}
              and [t["Arn"] for t in rule["Targets"]] == ["<ArchiveDeliveryStream.Arn>"],
              f"[{scenario}] archive rule {rule}")
        abucket = stack.props("ArchiveBucket")
        check(abucket["BucketEncryption"] == bucket["BucketEncryption"]
              and abucket["PublicAccessBlockConfiguration"] == bucket["PublicAccessBlockConfiguration"],
              f"[{scenario}] archive bucket not private and encrypted as the events bucket")
        adeny = stack.props("ArchiveBucketPolicy")["PolicyDocument"]["Statement"]
        check(any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in adeny),
              f"[{scenario}] no TLS-only archive bucket policy")
        # The stream writes the archive bucket only (and the key when there is one).
        writes = {(a, r) for pol in stack.props("ArchiveDeliveryRole")["Policies"]
                  for s in pol["PolicyDocument"]["Statement"] for a in as_list(s["Action"])
                  for r in as_list(s["Resource"])}
        check(all(r.startswith("<ArchiveBucket.Arn>") or r == KEY for _, r in writes),
              f"[{scenario}] archive role reaches beyond its bucket: {sorted(writes)}")

for e in errors:
    print("  " + e, file=sys.stderr)
print(f"{len(SCENARIOS)} parameter sets checked, {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
PY

if [ ${#failed[@]} -gt 0 ]; then
    printf 'check-template.sh: failed: %s\n' "${failed[*]}" >&2
    exit 1
fi
echo "check-template.sh: all checks passed"
