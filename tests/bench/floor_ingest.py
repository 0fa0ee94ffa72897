"""The ingest floor: the ingestion job's read -> validate -> partitioned Parquet write, done in DuckDB.

Same input file, same canonical columns and casts (ingestion/canonical.py), same rules in the same
order with the same first-rule-wins reason codes (rules.rules_for), the same duplicate detection
(smallest source_row per trip_key wins), the same two partitions (accepted rows in the canonical
schema; quarantined rows plus reason_code, reason, raw_record) and a manifest the loader accepts.
It is what a hand-written, single-process, vectorised implementation of the job costs on this
machine: the yardstick for the Spark job, not a replacement for it (it knows only TLC's current
Parquet layouts of yellow, green and High Volume FHV, nothing of S3, Glue or CSV quirks, and its
trip_key differs from the job's). `ingest_files` is the floor of a run over many files: one DuckDB
process (one connection) doing each file in turn, each with its own partitions and manifest.

Like the job, it takes the file's sha256 first (the job's skip check) and builds trip_key from two
64-bit hashes of the typed values (DuckDB's ``hash``; the job uses ingestion/trip_keys.py), as 32 hex
digits. It also counts the accepted rows whose codes the code tables lack (the manifest's warnings).
Differences that do not change which rows are accepted: the trip_key values, raw_record is DuckDB's
JSON, reason texts are shorter.
"""

from __future__ import annotations

import time
from pathlib import Path

from ingestion import manifest as manifest_mod
from ingestion import raw_files, rules
from ingestion.contract import QUARANTINE_COLUMNS, dataset

SERVICES = ("yellow", "green", "fhvhv")
SQL_TYPE = {
    "timestamp": "timestamp",
    "int": "integer",
    "bigint": "bigint",
    "double": "double",
    "amount": "decimal(12,2)",
    "string": "varchar",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _canonical(source: str | None, raw_type: str | None, kind: str, coded: bool = False) -> tuple[str, str]:
    """(value, failed) SQL for one canonical column; mirrors reader.canonical_column."""
    target = SQL_TYPE[kind]
    if source is None:
        return f"cast(null as {target})", "false"
    col = _q(source)
    is_text = raw_type is not None and raw_type.upper() in ("VARCHAR", "STRING")
    if is_text:
        src = f"trim({col})"
        present = f"coalesce({src} <> '', false)"
    else:
        src = col
        present = f"({col} is not null)"
    if kind == "timestamp":
        value = f"try_cast({src} as timestamp)"
    elif kind == "string":
        text = f"cast({src} as varchar)"
        text = f"upper({text})" if coded else text  # canonical._code_text: codes upper-case, other text as is
        value = f"(case when {text} <> '' then {text} end)"
    elif kind == "amount":
        value = f"try_cast({src} as decimal(12,2))"
    else:
        as_double = f"try_cast({src} as double)"
        if kind in ("int", "bigint"):
            value = (
                f"(case when {as_double} = floor({as_double}) and abs({as_double}) < 2147483648"
                f" then cast({as_double} as integer) end)"
            )
        else:
            value = f"(case when not isnan({as_double}) then {as_double} end)"
    return f"cast({value} as {target})", f"({present} and {value} is null)"


def _rule_sql(service: str, year: int, month: int) -> list[tuple[str, str]]:
    """(reason_code, condition) of the dataset's rules (rules.rules_for), in order; never null."""
    item = dataset(service)
    start, end = rules.month_bounds(year, month)
    ts = lambda value: f"timestamp '{value:%Y-%m-%d %H:%M:%S}'"  # noqa: E731
    lo, hi = rules.MIN_LOCATION_ID, rules.MAX_LOCATION_ID
    bad_zone = lambda col: f"({col} is not null and {col} not between {lo} and {hi})"  # noqa: E731
    # rules._seconds: whole seconds between pickup and dropoff, floored; 0 when either is missing
    seconds = "coalesce(floor((epoch_us(dropoff_at) - epoch_us(pickup_at)) / 1000000.0), 0)"
    required = " or ".join(f"{name} is null" for name in ("pickup_at", "dropoff_at") if name in _required(item))
    distance = "trip_miles" if service == "fhvhv" else "trip_distance"
    if service == "fhvhv":
        negative = " or ".join(f"{name} < 0" for name in rules.HVFHV_AMOUNTS)
    else:
        negative = (
            "(fare_amount < 0 or total_amount < 0) and (payment_type is null or payment_type not in"
            f" ({', '.join(map(str, rules.REVERSAL_PAYMENT_TYPES))}))"
        )
    checks = {
        "unparseable": f"_unparseable is not null or {required}",
        "pickup_outside_file_month": f"pickup_at < {ts(start)} or pickup_at >= {ts(end)}",
        "dropoff_before_pickup": f"{seconds} < 0",
        "implausible_duration": f"{seconds} > {rules.MAX_DURATION_HOURS * 3600}",
        "implausible_distance": f"{distance} < 0 or {distance} > {rules.MAX_DISTANCE_MILES}",
        "trip_time_mismatch": (
            f"trip_time is not null"
            f" and (trip_time < 0 or abs(trip_time - {seconds}) > {rules.MAX_TRIP_TIME_GAP_SECONDS})"
        ),
        "negative_amount": negative,
        "unknown_location": f"{bad_zone('pickup_location_id')} or {bad_zone('dropoff_location_id')}",
        "duplicate_row": "_first_row is not null and source_row > _first_row",
    }
    return [(code, f"coalesce(({checks[code]}), false)") for code in rules.rules_for(item)]


def _required(item) -> set[str]:
    """Fields a row cannot be read without (rules._required_fields)."""
    return {name for requirement in item.requirements if len(requirement) == 1 for name in requirement[0]}


def _warnings_sql(service: str) -> str:
    """`column=value` counts of accepted rows whose code the code tables lack."""
    parts = []
    for field in dataset(service).fields:
        if field.codes is None:
            continue
        known = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in field.codes.values)
        parts.append(
            f"select '{field.name}=' || cast({field.name} as varchar) as code, count(*) as n from classified"
            f" where reason_code is null and {field.name} is not null and {field.name} not in ({known}) group by 1"
        )
    return " union all ".join(parts)


def connect(threads: int | None = None):
    """A DuckDB connection set up as the floor uses it."""
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")
    return con


def ingest_files(paths: list[str], lake_root: str, quarantine_root: str, threads: int | None = None) -> dict:
    """The floor of one run over many files: one DuckDB connection, each file in turn (its own two
    partitions and manifest, as the job writes them). Returns the manifests and ``seconds``."""
    started = time.perf_counter()
    con = connect(threads)
    manifests = [_ingest(con, path, lake_root, quarantine_root) for path in paths]
    con.close()
    return {"manifests": manifests, "seconds": time.perf_counter() - started}


def ingest_file(path: str, lake_root: str, quarantine_root: str, threads: int | None = None) -> dict:
    """Ingest one Parquet TLC file (yellow, green, fhvhv); returns its manifest plus ``seconds`` (the timed work)."""
    started = time.perf_counter()
    con = connect(threads)
    result = _ingest(con, path, lake_root, quarantine_root)
    con.close()
    return {**result, "seconds": time.perf_counter() - started}


def _ingest(con, path: str, lake_root: str, quarantine_root: str) -> dict:
    inspection = raw_files.inspect_file(path)
    raw = inspection.raw
    if raw.fmt != "parquet" or raw.service not in SERVICES:
        raise ValueError(f"the DuckDB floor reads Parquet files of {', '.join(SERVICES)} only")
    item = dataset(raw.service)
    sha256 = raw_files.fingerprint(path)
    src = f"read_parquet({_lit(path)}, file_row_number = true)"
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {src})").fetchall())
    original = [name for name in types if name != "file_row_number"]

    values, failures = [], []
    for field in item.fields:
        source = inspection.mapping.source_for(field.name)
        value, failed = _canonical(source, types.get(source) if source else None, field.type, field.codes is not None)
        values.append(f"{value} as {field.name}")
        failures.append(f"case when {failed} then {_lit(f'{field.name} ({source})')} end")
    key_values = ", ".join(["service", *(f.name for f in item.fields)])
    # Typed values only: the raw values are read again, for the quarantined rows alone, when the
    # quarantine is written. trip_key stays two 64-bit hashes until a row is written (as in the job).
    con.execute(
        f"""
        create or replace temp table canon as
        with typed as (
            select
                {_lit(raw.service)} as service,
                {", ".join(values)},
                {_lit(raw.name)} as source_file,
                file_row_number + 1 as source_row,
                nullif(concat_ws(', ', {", ".join(failures)}), '') as _unparseable
            from {src}
        )
        select hash({key_values}) as _h1, hash('trip_key/2', {key_values}) as _h2, * from typed
        """
    )
    con.execute(
        """
        create or replace temp table first_rows as
        select _h1, _h2, min(source_row) as _first_row from canon group by _h1, _h2 having count(*) > 1
        """
    )
    code = "cast(null as varchar)"
    for rule_code, cond in reversed(_rule_sql(raw.service, raw.year, raw.month)):
        code = f"case when {cond} then {_lit(rule_code)} else {code} end"
    con.execute(
        f"""
        create or replace temp view classified as
        select format('{{:016x}}{{:016x}}', _h1, _h2) as trip_key, canon.* exclude (_h1, _h2), {code} as reason_code
        from canon left join first_rows using (_h1, _h2)
        """
    )
    lake_dir = Path(lake_root) / raw.partition
    quarantine_dir = Path(quarantine_root) / raw.partition
    for directory in (lake_dir, quarantine_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.parquet"):
            old.unlink()
    lake_columns = [c.name for c in item.columns]
    con.execute(
        f"copy (select {', '.join(lake_columns)} from classified where reason_code is null)"
        f" to {_lit(str(lake_dir / 'part-00000.parquet'))} (format parquet, compression snappy)"
    )
    raw_json = "to_json(struct_pack(" + ", ".join(f"{_q(c)} := r.{_q(c)}" for c in original) + "))"
    special = {
        "trip_key": "case when reason_code = 'unparseable' then null else trip_key end as trip_key",
        "reason": "reason_code || coalesce(': ' || _unparseable, '') as reason",
        "raw_record": f"{raw_json} as raw_record",
    }
    columns_sql = ", ".join(special.get(c.name, f"c.{c.name}") for c in QUARANTINE_COLUMNS)
    con.execute(
        f"copy (select {columns_sql} from classified c join {src} r on r.file_row_number + 1 = c.source_row"
        f" where c.reason_code is not null)"
        f" to {_lit(str(quarantine_dir / 'part-00000.parquet'))} (format parquet, compression snappy)"
    )
    counts = dict(con.execute("select reason_code, count(*) from classified group by 1").fetchall())
    warnings = dict(con.execute(_warnings_sql(raw.service)).fetchall())
    con.execute("drop view classified")
    con.execute("drop table canon")
    accepted = int(counts.pop(None, 0))
    quarantined = int(sum(counts.values()))
    rules.check_file_month(
        raw.path, raw.year, raw.month, accepted + quarantined, counts.get("pickup_outside_file_month", 0)
    )
    result = manifest_mod.build_manifest(
        raw, sha256, inspection.rows_in_footer, accepted, quarantined, counts, warnings
    )
    manifest_mod.write_manifest(lake_root, result)
    return result
