"""Runs the example queries of docs/guides/finding-and-replaying-events.md with DuckDB over
stored envelopes, read with the columns of the template's Glue tables (QueryTable and
ArchiveTable).

    python3 scripts/query-events.py DIR [NAME=VALUE ...] [archive=ARCHIVE_DIR]
    python3 scripts/query-events.py --columns [archive]

DIR holds envelopes as `hookwarden serve` writes them, or objects downloaded from the events
bucket under their keys; ARCHIVE_DIR what the archive stream writes: bus events, one per line,
under `events/dt=YYYY-MM-DD/`. Each example is a ```sql block of the guide whose first line is
`-- query: <name>`; `<NAME>` placeholders in it are replaced by the NAME=VALUE arguments, and
the examples on `hookwarden_archive` run only with `archive=`. Prints one JSON object:
{query name: [[column values as text] ...]}. `--columns` prints a table's column names and Glue
types, one per line, for scripts/check-template.sh to compare.
"""
import json
import pathlib
import re
import sys

GUIDE = pathlib.Path(__file__).resolve().parent.parent / "docs/guides/finding-and-replaying-events.md"

# The Glue table's columns (template.yaml QueryTable) and how DuckDB reads each: the JSON
# objects are text in Athena (OpenX SerDe) and JSON text here.
COLUMNS = [
    ("format", "int", "INTEGER"),
    ("id", "string", "VARCHAR"),
    ("provider", "string", "VARCHAR"),
    ("tenant", "string", "VARCHAR"),
    ("event_type", "string", "VARCHAR"),
    ("received_at", "string", "VARCHAR"),
    ("verified_by", "string", "JSON"),
    ("source_ip", "string", "VARCHAR"),
    ("content_sha256", "string", "VARCHAR"),
    ("body_sha256", "string", "VARCHAR"),
    ("unsigned", "string", "JSON"),
    ("body", "string", "JSON"),
    ("body_verbatim_base64", "string", "VARCHAR"),
    ("body_base64", "string", "VARCHAR"),
    ("message", "string", "JSON"),
    ("redacted", "array<string>", "VARCHAR[]"),
]

# The archive table's columns: the EventBridge event, its envelope as `detail` (the envelope
# columns a query selects on, and where the event is stored and whether it is a replay).
DETAIL_LEFT_OUT = {"verified_by", "source_ip", "unsigned", "message", "redacted"}
DETAIL = [c for c in COLUMNS if c[0] not in DETAIL_LEFT_OUT] + [
    ("stored_at", "struct<bucket:string,key:string>", 'STRUCT("bucket" VARCHAR, "key" VARCHAR)'),
    ("replay", "struct<name:string,at:string>", 'STRUCT("name" VARCHAR, "at" VARCHAR)'),
]
ARCHIVE_COLUMNS = [
    ("id", "string", "VARCHAR", "id"),
    ("time", "string", "VARCHAR", "time"),
    ("source", "string", "VARCHAR", "source"),
    ("detail_type", "string", "VARCHAR", "detail-type"),
    ("detail",
     "struct<" + ",".join(f"{n}:{g}" for n, g, _ in DETAIL) + ">",
     "STRUCT(" + ", ".join(f'"{n}" {d}' for n, _, d in DETAIL) + ")",
     "detail"),
]

# Presto/Trino (Athena) functions the examples use, and DuckDB's names for them.
DIALECT = {"json_extract_scalar(": "json_extract_string("}


def examples():
    text = GUIDE.read_text()
    for block in re.findall(r"```sql\n(.*?)```", text, re.S):
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"-- query: ([\w-]+)", first.strip())
        if match:
            yield match.group(1), rest


def main():
    if sys.argv[1:] == ["--columns"]:
        for name, glue, _ in COLUMNS:
            print(f"{name} {glue}")
        return
    if sys.argv[1:] == ["--columns", "archive"]:
        for name, glue, _, _ in ARCHIVE_COLUMNS:
            print(f"{name} {glue}")
        return
    import duckdb

    root = pathlib.Path(sys.argv[1]).resolve()
    params = dict(arg.split("=", 1) for arg in sys.argv[2:])
    archive = params.pop("archive", None)
    columns = ", ".join(f"'{name}': '{duck}'" for name, _, duck in COLUMNS)
    pattern = str(root / "**" / "*.json").replace("'", "''")
    con = duckdb.connect()
    # Every line must be a JSON object: DuckDB fails on anything else, as Athena does.
    con.execute(
        "CREATE VIEW hookwarden_events AS SELECT * EXCLUDE (filename), filename AS \"$path\" "
        f"FROM read_json('{pattern}', format = 'newline_delimited', columns = {{{columns}}}, "
        "filename = true)"
    )
    if archive:
        fields = ", ".join(f"'{key}': '{duck.replace(chr(39), chr(39) * 2)}'"
                           for _, _, duck, key in ARCHIVE_COLUMNS)
        names = ", ".join(f'"{key}" AS {name}' for name, _, _, key in ARCHIVE_COLUMNS)
        files = str(pathlib.Path(archive).resolve() / "events" / "dt=*" / "*").replace("'", "''")
        con.execute(
            f"CREATE VIEW hookwarden_archive AS SELECT {names}, dt FROM read_json('{files}', "
            f"format = 'newline_delimited', columns = {{{fields}}}, hive_partitioning = true, "
            "hive_types = {'dt': VARCHAR})"
        )
    results = {}
    for name, sql in examples():
        if "hookwarden_archive" in sql and not archive:
            continue
        for key, value in params.items():
            sql = sql.replace(f"<{key}>", value)
        for athena, duck in DIALECT.items():
            sql = sql.replace(athena, duck)
        rows = con.execute(sql).fetchall()
        results[name] = [[None if v is None else str(v) for v in row] for row in rows]
    if not results:
        sys.exit(f"no `-- query:` examples in {GUIDE}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
