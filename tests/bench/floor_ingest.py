"""The ingest floor: the ingestion job's read -> validate -> partitioned Parquet write, done in DuckDB.

Same input file, same canonical columns and casts (reader.canonical_column), same rules in the same
order with the same first-rule-wins reason codes (rules.rule_checks), the same duplicate detection
(smallest source_row per trip_key wins), the same two partitions (accepted rows in the canonical
schema; quarantined rows plus reason_code, reason, raw_record) and a manifest the loader accepts.
It is what a hand-written, single-process, vectorised implementation of the job costs on this
machine: the yardstick for the Spark job, not a replacement for it (it knows only the Parquet
layouts, nothing of S3, Glue or CSV quirks, and its trip_key differs from Spark's).

Like the job, it takes the file's sha256 first (the job's skip check) and builds trip_key from two
64-bit hashes of the typed values (DuckDB's ``hash``; the job uses Spark's xxhash64), as 32 hex
digits. Differences that do not change which rows are accepted: the trip_key values, raw_record is
DuckDB's JSON, reason texts are shorter.
"""

from __future__ import annotations

import time
from pathlib import Path

from ingestion import manifest as manifest_mod
from ingestion import reader, rules
from ingestion.schema import (
    AMOUNT_KIND,
    DOUBLE_KIND,
    FLAG_KIND,
    INT_KIND,
    TIMESTAMP_KIND,
    TRIP_COLUMNS,
    TRIP_KEY_COLUMNS,
    VALUE_COLUMNS,
)

SQL_TYPE = {
    TIMESTAMP_KIND: "timestamp",
    INT_KIND: "integer",
    DOUBLE_KIND: "double",
    AMOUNT_KIND: "decimal(12,2)",
    FLAG_KIND: "varchar",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _canonical(source: str | None, raw_type: str | None, kind: str) -> tuple[str, str]:
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
    if kind == TIMESTAMP_KIND:
        value = f"try_cast({src} as timestamp)"
    elif kind == FLAG_KIND:
        text = f"upper(cast({src} as varchar))"
        value = f"(case when {text} <> '' then {text} end)"
    elif kind == AMOUNT_KIND:
        value = f"try_cast({src} as decimal(12,2))"
    else:
        as_double = f"try_cast({src} as double)"
        if kind == INT_KIND:
            value = (
                f"(case when {as_double} = floor({as_double}) and abs({as_double}) < 2147483648"
                f" then cast({as_double} as integer) end)"
            )
        else:
            value = f"(case when not isnan({as_double}) then {as_double} end)"
    return f"cast({value} as {target})", f"({present} and {value} is null)"


def _rule_sql(year: int, month: int) -> list[tuple[str, str]]:
    """(reason_code, condition) in rules.RULES order; conditions never null."""
    start, end = rules.month_bounds(year, month)
    ts = lambda value: f"timestamp '{value:%Y-%m-%d %H:%M:%S}'"  # noqa: E731
    off_list = lambda col, allowed: f"({col} is not null and {col} not in ({', '.join(map(repr, allowed))}))"  # noqa: E731
    codes = [
        off_list("payment_type", rules.VALID_PAYMENT_TYPES),
        off_list("rate_code_id", rules.VALID_RATE_CODES),
        off_list("store_and_fwd_flag", rules.VALID_FLAGS),
        off_list("trip_type", rules.VALID_TRIP_TYPES),
    ]
    lo, hi = rules.MIN_LOCATION_ID, rules.MAX_LOCATION_ID
    checks = [
        ("unparseable", "_unparseable is not null or pickup_at is null or dropoff_at is null"),
        ("pickup_outside_file_month", f"pickup_at < {ts(start)} or pickup_at >= {ts(end)}"),
        ("dropoff_before_pickup", "dropoff_at < pickup_at"),
        (
            "implausible_duration",
            f"(epoch_us(dropoff_at) // 1000000) - (epoch_us(pickup_at) // 1000000) > {rules.MAX_DURATION_HOURS * 3600}",
        ),
        ("implausible_distance", f"trip_distance < 0 or trip_distance > {rules.MAX_DISTANCE_MILES}"),
        (
            "negative_amount",
            "(fare_amount < 0 or total_amount < 0) and (payment_type is null or payment_type not in"
            f" ({', '.join(map(str, rules.REVERSAL_PAYMENT_TYPES))}))",
        ),
        (
            "unknown_location",
            f"pickup_location_id is null or pickup_location_id not between {lo} and {hi}"
            f" or dropoff_location_id is null or dropoff_location_id not between {lo} and {hi}",
        ),
        ("unknown_vendor", f"vendor_id is null or vendor_id not in ({', '.join(map(str, rules.VALID_VENDORS))})"),
        ("unknown_code", " or ".join(codes)),
        ("duplicate_row", "_first_row is not null and source_row > _first_row"),
    ]
    assert tuple(code for code, _ in checks) == rules.RULE_CODES
    return [(code, f"coalesce(({cond}), false)") for code, cond in checks]


def ingest_file(path: str, lake_root: str, quarantine_root: str, threads: int | None = None) -> dict:
    """Ingest one Parquet TLC file; returns its manifest plus ``seconds`` (the timed work)."""
    import duckdb

    started = time.perf_counter()
    inspection = reader.inspect_file(path)
    raw = inspection.raw
    if raw.fmt != "parquet":
        raise ValueError("the DuckDB floor reads Parquet files only")
    sha256 = reader.fingerprint(inspection)
    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")
    src = f"read_parquet({_lit(path)}, file_row_number = true)"
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {src})").fetchall())
    original = [name for name in types if name != "file_row_number"]

    values, failures = [], []
    for name, kind in VALUE_COLUMNS:
        source = inspection.mapping.source_for(name)
        value, failed = _canonical(source, types.get(source) if source else None, kind)
        values.append(f"{value} as {name}")
        failures.append(f"case when {failed} then {_lit(f'{name} ({source})')} end")
    key_values = ", ".join(TRIP_KEY_COLUMNS)
    con.execute(
        f"""
        create temp table canon as
        with typed as (
            select
                {_lit(raw.service)} as service,
                {", ".join(values)},
                {_lit(raw.name)} as source_file,
                file_row_number + 1 as source_row,
                nullif(concat_ws(', ', {", ".join(failures)}), '') as _unparseable,
                {", ".join(f"{_q(c)} as {_q('_raw_' + c)}" for c in original)}
            from {src}
        )
        select format('{{:016x}}{{:016x}}', hash({key_values}), hash('trip_key/2', {key_values})) as trip_key, *
        from typed
        """
    )
    con.execute(
        """
        create temp table first_rows as
        select trip_key, min(source_row) as _first_row from canon group by trip_key having count(*) > 1
        """
    )
    code = "cast(null as varchar)"
    for rule_code, cond in reversed(_rule_sql(raw.year, raw.month)):
        code = f"case when {cond} then {_lit(rule_code)} else {code} end"
    con.execute(
        f"""
        create temp table classified as
        select canon.*, {code} as reason_code
        from canon left join first_rows using (trip_key)
        """
    )
    lake_dir = Path(lake_root) / raw.partition
    quarantine_dir = Path(quarantine_root) / raw.partition
    for directory in (lake_dir, quarantine_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.parquet"):
            old.unlink()
    con.execute(
        f"copy (select {', '.join(TRIP_COLUMNS)} from classified where reason_code is null)"
        f" to {_lit(str(lake_dir / 'part-00000.parquet'))} (format parquet, compression snappy)"
    )
    raw_json = "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q('_raw_' + c)}" for c in original) + "))"
    columns_sql = ", ".join(
        [
            *TRIP_COLUMNS,
            "reason_code",
            "reason_code || coalesce(': ' || _unparseable, '') as reason",
            f"{raw_json} as raw_record",
        ]
    )
    con.execute(
        f"copy (select {columns_sql} from classified where reason_code is not null)"
        f" to {_lit(str(quarantine_dir / 'part-00000.parquet'))} (format parquet, compression snappy)"
    )
    counts = dict(con.execute("select reason_code, count(*) from classified group by 1").fetchall())
    con.close()
    accepted = int(counts.pop(None, 0))
    quarantined = int(sum(counts.values()))
    rules.check_file_month(
        raw.path, raw.year, raw.month, accepted + quarantined, counts.get("pickup_outside_file_month", 0)
    )
    result = manifest_mod.build_manifest(raw, sha256, inspection.rows_in_footer, accepted, quarantined, counts)
    manifest_mod.write_manifest(lake_root, result)
    return {**result, "seconds": time.perf_counter() - started}
