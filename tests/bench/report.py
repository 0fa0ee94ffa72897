"""Render a benchmark run: the chart (PNG) and its section of BENCHMARKS.md.

The section for one scale sits between `<!-- bench:begin scale=N -->` and `<!-- bench:end scale=N -->`
and is replaced when that scale is measured again; every other line of the file (other scales, the
hand-written notes on what was tried) is kept.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

SECTION_TITLES = (
    "Summary",
    "Targets (issue 15)",
    "Ingest",
    "Load",
    "dbt",
    "Many files",
    "HVFHV",
    "Zone assignment",
    "A year (issue 21)",
    "First impression",
    "Peak memory",
    "Environment",
)
TARGETS = {
    "ingest": 3.0,  # Spark (incl. JVM start) / DuckDB floor, at most
    "load": 0.70,  # loader throughput / raw COPY throughput, at least
    "history": 1.3,  # incremental(12) / incremental(1), at most
    "refresh": 8.0,  # full refresh(12) / incremental(12), at least
    "many_files": 3.0,  # job minus session start / floor, same files, at most
    "hvfhv": 3.0,  # Spark (incl. JVM start) / floor on the HVFHV month, at most
    "hvfhv_memory_mb": 6 * 1024,  # the job's process tree (JVM + Python workers), at most
    "first_run_seconds": 45.0,  # `make run` on a fresh clone to its summary, at most
}
REAL_YELLOW_ROWS, REAL_HVFHV_ROWS = 3_000_000, 20_000_000
RESULTS_MARKER = "<!-- bench:results -->"


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _s(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


AT_LEAST = {"load", "refresh"}  # every other target is a ceiling


def _bound(key: str) -> str:
    """A target as the tables print it: `<= 3x`, `>= 70%`, `<= 6 GiB`..."""
    value = TARGETS[key]
    formats = {
        "load": f"{value:.0%}",
        "history": f"{value}x",
        "hvfhv_memory_mb": f"{value / 1024:.0f} GiB",
        "first_run_seconds": f"{value:.0f} s",
    }
    return (">= " if key in AT_LEAST else "<= ") + formats.get(key, f"{value:.0f}x")


def _meets(key: str, measured: float) -> bool:
    return measured >= TARGETS[key] if key in AT_LEAST else measured <= TARGETS[key]


def _verdict(key: str, measured: float) -> list[str]:
    """The target's two cells: the bound, and whether the measured value meets it."""
    return [_bound(key), _met(_meets(key, measured))]


def _all(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def summary_rows(results: dict) -> list[list[str]]:
    rows = []
    ingest, load, dbt = results.get("ingest"), results.get("load"), results.get("dbt")
    if ingest:
        spark, floor = ingest["spark"], ingest["floor"]
        rows.append(
            [
                f"Ingest {ingest['rows']:,} rows, cold (JVM start + job)",
                f"{_s(_median(spark['total_seconds']))} (start {_s(_median(spark['session_seconds']))}"
                f" + job {_s(_median(spark['cold_seconds']))})",
                f"DuckDB {_s(_median(floor['seconds']))}",
                f"{ingest['ratio_total']:.1f}x",
                *_verdict("ingest", ingest["ratio_total"]),
            ]
        )
        rows.append(
            [
                "Ingest, warm JVM (second file of a session)",
                _s(_median(spark["warm_seconds"])),
                f"DuckDB {_s(_median(floor['seconds']))}",
                f"{ingest['ratio_warm']:.1f}x",
                "",
                "",
            ]
        )
    if load:
        rows.append(
            [
                f"Load {load['rows']:,} rows (lake month -> PostgreSQL)",
                f"{_s(_median(load['loader']['seconds']))} ({_n(load['loader']['rows_per_second'])} rows/s)",
                f"COPY {load['floor']['best_format']} {_s(_median(load['floor']['seconds']))}"
                f" ({_n(load['floor']['rows_per_second'])} rows/s)",
                f"{load['throughput_share']:.0%} of COPY",
                *_verdict("load", load["throughput_share"]),
            ]
        )
    if dbt:
        h = dbt["history"]
        first, last = h[0], h[-1]
        inc = dbt["incremental_fact_seconds"]
        rows.append(
            [
                f"dbt +1 month ({dbt['rows_per_month']:,} rows/month): {last} vs {first} month(s) of history",
                f"{_s(inc[str(last)])} vs {_s(inc[str(first)])} (fact_trips)",
                "",
                f"{dbt['ratio_history']:.2f}x (wall {dbt['ratio_history_wall']:.2f}x)",
                *_verdict("history", dbt["ratio_history"]),
            ]
        )
        rows.append(
            [
                f"dbt full refresh vs +1 month, {last} months of history",
                f"{_s(dbt['full_refresh_fact_seconds'])} vs {_s(inc[str(last)])} (fact_trips)",
                "",
                f"{dbt['ratio_refresh']:.1f}x (wall {dbt['ratio_refresh_wall']:.1f}x)",
                *_verdict("refresh", dbt["ratio_refresh"]),
            ]
        )
    many, hvfhv, first = results.get("many_files"), results.get("hvfhv"), results.get("first_run")
    if many:
        rows.append(_many_row(many))
    if hvfhv:
        rows += [_hvfhv_row(hvfhv), _hvfhv_memory_row(hvfhv)]
        load = hvfhv["load"]
        rows.append(
            [
                f"HVFHV load {load['rows']:,} rows",
                f"{_s(_median(load['loader']['seconds']))} ({_n(load['loader']['rows_per_second'])} rows/s)",
                f"COPY {load['floor']['best_format']} {_s(_median(load['floor']['seconds']))}",
                f"{load['throughput_share']:.0%} of COPY",
                *_verdict("load", load["throughput_share"]),
            ]
        )
        fd = hvfhv["dbt"]
        h = fd["history"]
        inc = fd["incremental_fact_seconds"]
        rows.append(
            [
                f"dbt fact_fhv_trips +1 month ({fd['rows_per_month']:,} rows/month): {h[-1]} vs {h[0]} month(s)",
                f"{_s(inc[str(h[-1])])} vs {_s(inc[str(h[0])])}",
                "",
                f"{fd['ratio_history']:.2f}x (wall {fd['ratio_history_wall']:.2f}x)",
                *_verdict("history", fd["ratio_history"]),
            ]
        )
    if first and not first.get("skipped"):
        rows.append(_first_run_row(first))
    return rows


def _range(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    low, high = min(values), max(values)
    return f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f}-{high:.1f}"


def _many_row(many: dict) -> list[str]:
    spark, floor = many["spark"], many["floor"]
    return [
        f"Many files: {many['files']} files of {many['rows_per_file']:,} rows, job without session start",
        f"{_s(_median(spark['cold_seconds']))} (plan {_s(_median(spark['plan_seconds']))}"
        f" + Spark job {_s(_median(spark['execute_seconds']))})",
        f"DuckDB {_s(_median(floor['seconds']))}",
        f"{many['ratio_cold']:.1f}x",
        *_verdict("many_files", many["ratio_cold"]),
    ]


def _hvfhv_row(hvfhv: dict) -> list[str]:
    ingest = hvfhv["ingest"]
    spark, floor = ingest["spark"], ingest["floor"]
    return [
        f"HVFHV ingest {ingest['rows']:,} rows, cold (JVM start + job)",
        f"{_s(_median(spark['total_seconds']))} (start {_s(_median(spark['session_seconds']))}"
        f" + job {_s(_median(spark['cold_seconds']))})",
        f"DuckDB {_s(_median(floor['seconds']))}",
        f"{ingest['ratio_total']:.1f}x",
        *_verdict("hvfhv", ingest["ratio_total"]),
    ]


def _hvfhv_memory_row(hvfhv: dict) -> list[str]:
    ingest = hvfhv["ingest"]
    peak = ingest["spark"]["peak_rss_mb"]
    return [
        f"HVFHV ingest {ingest['rows']:,} rows: peak memory of the job (JVM + Python workers)",
        f"{_n(peak)} MiB",
        f"DuckDB {_n(ingest['floor']['peak_rss_mb'])} MiB",
        "",
        *_verdict("hvfhv_memory_mb", peak),
    ]


def _first_run_row(first: dict) -> list[str]:
    seconds = first["seconds"]
    return [
        f"`make run` on a fresh clone ({len(seconds)} runs), to its summary",
        f"{_s(_median(seconds))} (runs {_all(seconds)})",
        "",
        f"max {max(seconds):.1f} s",
        *_verdict("first_run_seconds", _median(seconds)),
    ]


def _ingest_rows(series: dict) -> list[list[str]]:
    """The rows of an ingest table: Spark's phases and the floor, medians and every run."""
    spark, floor = series["spark"], series["floor"]
    rows = [
        ["Spark session start (JVM)", _s(_median(spark["session_seconds"])), _all(spark["session_seconds"])],
        ["Spark job, cold (first run of the process)", _s(_median(spark["cold_seconds"])), _all(spark["cold_seconds"])],
        ["  of which `plan` (inspect, sha256)", _s(_median(spark["plan_seconds"])), _all(spark["plan_seconds"])],
        ["  of which `execute` (the Spark job)", _s(_median(spark["execute_seconds"])), _all(spark["execute_seconds"])],
        [
            "  the files' own time inside their tasks (sum)",
            _s(_median(spark["file_seconds_sum"])),
            _all(spark["file_seconds_sum"]),
        ],
    ]
    if spark.get("warm_seconds"):
        rows.append(
            ["Spark job, warm (second run, same JVM)", _s(_median(spark["warm_seconds"])), _all(spark["warm_seconds"])]
        )
    rows += [
        ["Spark start + cold job", _s(_median(spark["total_seconds"])), _all(spark["total_seconds"])],
        ["DuckDB floor", _s(_median(floor["seconds"])), _all(floor["seconds"])],
    ]
    return rows


def _ingest_ratios(series: dict) -> str:
    text = (
        f"Ratios to the floor (medians): start + cold job {series['ratio_total']:.1f}x, cold job alone "
        f"{series['ratio_cold']:.1f}x"
    )
    if series.get("ratio_warm") is not None:
        text += f", warm job {series['ratio_warm']:.1f}x"
    text += (
        f"; per repetition, start + cold job over the floor just before it: {_all(series['ratios_total'])}."
        f" Load average (1 min) at the start of each repetition: {_all(series['load_average'])}."
    )
    return text


def _counts_line(series: dict) -> str:
    exp = series["expected"]
    exp = exp if isinstance(exp, list) else [exp]
    accepted = sum(e["rows_accepted"] for e in exp)
    quarantined = sum(e["rows_quarantined"] for e in exp)
    return (
        "Accepted/quarantined rows per reason and warnings per code identical to the generator's expectation"
        f" in every run: **{'yes' if series['counts_identical'] else 'NO'}** ({accepted:,} accepted,"
        f" {quarantined:,} quarantined)."
    )


def _dbt_table(dbt: dict) -> str:
    model = dbt.get("model", "fact_trips")
    rows = [
        [
            "full `dbt build` (seeds, all models, tests), 1 month loaded",
            _s(dbt["full_build"]["fact_seconds"]),
            _s(dbt["full_build"]["wall_seconds"]),
            "",
        ]
    ]
    for h in dbt["history"]:
        runs = dbt["incremental"][str(h)]
        rows.append(
            [
                f"`dbt run -s {model}`, +1 month on {h} month(s)",
                _s(dbt["incremental_fact_seconds"][str(h)]),
                _s(dbt["incremental_wall_seconds"][str(h)]),
                _all([r["fact_seconds"] for r in runs]),
            ]
        )
    rows.append(
        [
            f"`dbt run -s {model} --full-refresh`, {dbt['history'][-1]} months",
            _s(dbt["full_refresh_fact_seconds"]),
            _s(dbt["full_refresh_wall_seconds"]),
            _all([r["fact_seconds"] for r in dbt["full_refresh"]]),
        ]
    )
    return _table(["", f"{model} (median)", "wall (median)", f"{model}, all runs (s)"], rows)


def _profile(series: dict) -> str:
    """Where a cold run's time went (medians)."""
    spark = series["spark"]
    return (
        f"session {_s(_median(spark['session_seconds']))}, plan {_s(_median(spark['plan_seconds']))},"
        f" Spark job {_s(_median(spark['execute_seconds']))} (files inside their tasks"
        f" {_s(_median(spark['file_seconds_sum']))} summed over both cores)"
    )


def targets_table(results: dict) -> str:
    """The four targets of issue 15 as measured in this run."""
    rows = []
    many = results.get("many_files")
    if many:
        rows.append(
            [
                f"1. Many files ({many['files']} x {many['rows_per_file']:,} rows): job minus session start / floor",
                f"{many['ratio_cold']:.2f}x",
                *_verdict("many_files", many["ratio_cold"]),
                _range(many["load_average"]),
                _profile(many),
            ]
        )
    ingest = results.get("ingest")
    if ingest:
        real = ingest["rows"] >= REAL_YELLOW_ROWS
        rows.append(
            [
                f"2. A real month: {ingest['rows']:,} yellow rows, cold, JVM start included / floor",
                f"{ingest['ratio_total']:.2f}x",
                _bound("ingest") + ("" if real else " (at 3,000,000 rows)"),
                _met(_meets("ingest", ingest["ratio_total"])) if real else "(smaller month)",
                _range(ingest["load_average"]),
                _profile(ingest),
            ]
        )
    hvfhv = results.get("hvfhv")
    if hvfhv:
        series = hvfhv["ingest"]
        real = series["rows"] >= REAL_HVFHV_ROWS
        peak = series["spark"]["peak_rss_mb"]
        ok = _meets("hvfhv", series["ratio_total"]) and _meets("hvfhv_memory_mb", peak)
        rows.append(
            [
                f"3. A big month: {series['rows']:,} HVFHV rows, cold / floor; peak memory",
                f"{series['ratio_total']:.2f}x; {_n(peak)} MiB",
                f"{_bound('hvfhv')}; {_bound('hvfhv_memory_mb')}" + ("" if real else " (at 20,000,000 rows)"),
                _met(ok) if real else "(smaller month)",
                _range(series["load_average"]),
                _profile(series),
            ]
        )
    first = results.get("first_run")
    if first and not first.get("skipped"):
        stages = {}
        for run in first["runs"]:
            for name, sec in run["stages"].items():
                stages.setdefault(name, []).append(sec)
        parts = [f"{name} {_s(_median(v))}" for name, v in stages.items() if _median(v) >= 0.5]
        spark = [r["spark_start_seconds"] for r in first["runs"] if r.get("spark_start_seconds") is not None]
        if spark:
            parts.append(f"(Spark start {_s(_median(spark))} of Ingest)")
        parts.append(f"outside the stages {_s(_median([r['outside_stages_seconds'] for r in first['runs']]))}")
        rows.append(
            [
                "4. First impression: `make run` on a fresh clone, to its summary (median; every run)",
                f"{_s(first['median_seconds'])} ({_all(first['seconds'])})",
                *_verdict("first_run_seconds", first["median_seconds"]),
                _range([r["load_average"] for r in first["runs"]]),
                ", ".join(parts),
            ]
        )
    elif first:
        first_run = "4. First impression: `make run` on a fresh clone"
        rows.append([first_run, "", _bound("first_run_seconds"), first["skipped"], "", ""])
    return _table(["target", "measured", "target", "status", "load average", "where the time goes (medians)"], rows)


def _load_section(load: dict, title: str) -> list[str]:
    floor = load["floor"]
    by_format = floor["seconds_by_format"]
    variants = load.get("variants") or {"loader": {**load["loader"], "label": "loader"}}
    average = load.get("load_average")
    return [
        title,
        "",
        f"The month's lake partition ({load['rows']:,} rows: accepted + quarantined) swapped into PostgreSQL by "
        "`orchestration/local/load_postgres.py` (one transaction: child table truncate + COPY, quarantine "
        "rows, load log, ANALYZE), each repetition a real reload."
        + (
            " The other variants (`tests/bench/load_variants.py`) do the same transaction with another way of"
            " turning Arrow batches into binary COPY."
            if len(variants) > 1
            else ""
        )
        + " Floor: the same rows, rendered beforehand by PostgreSQL itself (`COPY ... TO`), streamed with"
        f" `COPY ... FROM STDIN` into fresh plain tables in one transaction ({' and '.join(by_format)});"
        " the faster is the floor. Every variant and the floor run once per repetition (the variants' order "
        "rotates), after one untimed first load; every variant loaded exactly the first load's rows. "
        "Client CPU: user + system time of the loading process (Parquet read, encoding, sending), median."
        + (
            f" Load average (1 min) at the start of each repetition: {', '.join(f'{a:.1f}' for a in average)}."
            if average
            else ""
        ),
        "",
        _table(
            ["", "median", "rows/s", "share of floor", "vs loader (per rep, median)", "client CPU", "all runs (s)"],
            [
                *(
                    [
                        v["label"],
                        _s(_median(v["seconds"])),
                        _n(v["rows_per_second"]),
                        f"{v['share_of_floor']:.0%}" if "share_of_floor" in v else "",
                        f"{_median(v['ratio_to_loader']):.2f}x" if name != "loader" else "",
                        _s(_median(v["client_cpu_seconds"])) if v.get("client_cpu_seconds") else "",
                        _all(v["seconds"]),
                    ]
                    for name, v in variants.items()
                ),
                *(
                    [f"raw COPY ({fmt})", _s(_median(v)), _n(load["rows"] / _median(v)), "", "", "", _all(v)]
                    for fmt, v in by_format.items()
                ),
            ],
        ),
        "",
        f"Loader throughput: {load['throughput_share']:.0%} of raw COPY ({floor['best_format']}).",
        "",
    ]


def _dbt_text(dbt: dict, smaller: str) -> str:
    model = dbt.get("model", "fact_trips")
    service = dbt.get("service", "yellow")
    return (
        f"{dbt['rows_per_month']:,} synthetic {service} rows per month{smaller}, "
        f"{dbt['months_loaded']} months generated and ingested into a lake with the DuckDB floor (same rules, same "
        f"accepted rows), loaded with the loader; `{model}` ends with "
        f"{dbt['fact_rows']:,} rows in {dbt['fact_months']} months. +1 month: the first repetition is a new month; "
        "later ones re-trigger it by bumping its `raw.partition_loads.loaded_at` (a reload); "
        f"`VACUUM ANALYZE {model}` before each timed run. {model} time is the model's `execution_time` "
        "in run_results.json; wall is the whole dbt process (start-up, parse, connection, model)."
    )


def _dbt_ratios(dbt: dict) -> str:
    return (
        f"Incremental with {dbt['history'][-1]} vs {dbt['history'][0]} month(s) of history: "
        f"{dbt['ratio_history']:.2f}x (wall {dbt['ratio_history_wall']:.2f}x); full refresh / incremental at "
        f"{dbt['history'][-1]} months: {dbt['ratio_refresh']:.1f}x (wall {dbt['ratio_refresh_wall']:.1f}x)."
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(results: dict) -> str:
    return _table(["measure", "pipeline", "floor", "ratio", "target", "status"], summary_rows(results))


def section(results: dict, chart: Path | None, out: Path) -> str:
    env = results["environment"]
    scale = results["scale"]
    parts = [f"## SCALE={scale:,} rows per month", ""]
    experiment = results.get("experiment")
    if experiment:
        parts += [f"**Experiment, not the shipped configuration**: `{experiment}`.", ""]
    parts.append(
        f"Measured {env['date']} on {env['machine']} ({env['os']}), commit `{env['commit']}`, "
        f"median of {results['reps']} repetition(s) per figure, whole run {results['bench_seconds'] / 60:.1f} min. "
        "Ratios compare figures measured in this one run."
    )
    parts.append("")
    if chart is not None:
        rel = os.path.relpath(chart, out.parent)
        parts += [f"![time per stage and incremental time vs history]({rel})", ""]
    parts += ["### Summary", "", summary_table(results), ""]
    if any(results.get(key) for key in ("many_files", "hvfhv", "first_run")):
        parts += [
            "### Targets (issue 15)",
            "",
            "Ratios of figures measured side by side in this run (medians); a target set for a real month is"
            " judged only when this run measured one (`make bench SCALE=3000000`: 3,000,000 yellow rows and"
            " 20,000,000 HVFHV rows).",
            "",
            targets_table(results),
            "",
        ]

    ingest = results.get("ingest")
    if ingest:
        exp = ingest["expected"]
        parts += [
            "### Ingest",
            "",
            f"One synthetic yellow month, `{ingest['source_file']}` ({ingest['rows']:,} rows, "
            f"{ingest['source_mb']:.0f} MiB Parquet, {exp['rows_quarantined']:,} rows with anomalies at known counts). "
            "Spark: each repetition is a fresh process: session start (JVM launch included), then the job "
            "(`ingestion.job.plan`: inspect, sha256; `execute`: read, classify, both partition writes, manifest) on "
            "the month (cold), then again into another lake (warm). Floor: `tests/bench/floor_ingest.py`, the same "
            "read -> validate -> partition writes in DuckDB, a fresh process per repetition. Floor and Spark "
            "repetitions alternate, so load from other users of the machine falls on both.",
            "",
            _table(["", "median", "all runs (s)"], _ingest_rows(ingest)),
            "",
            _ingest_ratios(ingest),
            _counts_line(ingest),
            "",
        ]
    load = results.get("load")
    if load:
        parts += _load_section(load, "### Load")
    dbt = results.get("dbt")
    if dbt:
        smaller = (
            " (smaller than the ingest month, to keep the run short)"
            if dbt["rows_per_month"] < results["scale"]
            else ""
        )
        parts += ["### dbt", "", _dbt_text(dbt, smaller), "", _dbt_table(dbt), "", _dbt_ratios(dbt), ""]
    many = results.get("many_files")
    if many:
        parts += [
            "### Many files",
            "",
            f"One run over {many['files']} synthetic yellow months of {many['rows_per_file']:,} rows each (from"
            f" {many['first_month']}, {many['source_mb']:.1f} MiB of Parquet in all), the same at every scale. Spark:"
            " a fresh process per repetition; the target compares the job without the session start (the"
            " `plan` of the 36 files and one Spark job over them) to the floor. Floor: the same 36 files in one"
            " DuckDB process (`floor_ingest.ingest_files`: one connection, each file its own two partition"
            " writes and manifest, as the job writes them). Alternated as above.",
            "",
            _table(["", "median", "all runs (s)"], _ingest_rows(many)),
            "",
            _ingest_ratios(many),
            _counts_line(many),
            "",
        ]
    hvfhv = results.get("hvfhv")
    if hvfhv:
        series = hvfhv["ingest"]
        exp = series["expected"]
        fd = hvfhv["dbt"]
        parts += [
            "### HVFHV",
            "",
            f"One synthetic High Volume FHV month, `{series['source_file']}` ({series['rows']:,} rows,"
            f" {series['source_mb']:.0f} MiB Parquet in TLC's current layout, {exp['rows_quarantined']:,} rows with"
            " anomalies of every fhvhv rule at known counts): the scale x 20/3, TLC's own proportion (about"
            " 20,000,000 HVFHV vs 3,000,000 yellow trips a month), at most 20,000,000. Ingest as above (a"
            " fresh process per repetition, one cold run each), against the floor doing the fhvhv rules."
            " Peak memory: RSS of the whole process tree (the Python driver, the JVM, the Python workers),"
            " sampled every 0.1 s.",
            "",
            _table(["", "median", "all runs (s)"], _ingest_rows(series)),
            "",
            _ingest_ratios(series),
            _counts_line(series),
            f"Peak memory: job {_n(series['spark']['peak_rss_mb'])} MiB (target <= 6 GiB), floor"
            f" {_n(series['floor']['peak_rss_mb'])} MiB.",
            "",
            *_load_section(hvfhv["load"], "#### HVFHV load"),
            "#### HVFHV dbt: `fact_fhv_trips`",
            "",
            _dbt_text(
                fd, " (at most 1,000,000, to keep the run short)" if fd["rows_per_month"] < series["rows"] else ""
            ),
            "",
            _dbt_table(fd),
            "",
            _dbt_ratios(fd),
            "",
        ]
    zones = results.get("zones")
    if zones:
        rows = []
        for kind, label in (
            ("uniform_nyc_bbox", "uniform over the zones' bounding box"),
            ("real_sample_distribution", "real distribution (tests/fixtures/tlc_samples fixes, ~10 m jitter)"),
        ):
            z = zones[kind]
            rows.append(
                [
                    label,
                    _s(z["seconds"]),
                    _n(z["points_per_s"]),
                    f"{z['exact_test_share']:.1%}",
                    f"{z['share_in_zones_1_263']:.1%}",
                    _all(z["all_runs_s"]),
                ]
            )
        parts += [
            "### Zone assignment",
            "",
            f"`ingestion.zones.assign_zones` on {zones['points']:,} points of each kind, in a fresh process"
            f" (`tests/bench/zones_bench.py`): loading the polygons and building the grid took"
            f" {zones['load_and_grid_s']:.2f} s once; then the median of {zones['reps']} call(s). Points in a cell"
            " that a zone boundary crosses get the exact point-in-polygon test; the others are answered by the"
            f" grid. Load average at the start: {zones['load_average']:.1f}.",
            "",
            _table(["points", "median", "points/s", "exact test", "in zones 1-263", "all runs (s)"], rows),
            "",
        ]
    year = results.get("year")
    if year:
        import year_bench  # tests/bench/year_bench.py, beside this module

        parts += ["### A year (issue 21)", "", *year_bench.markdown(year)]
    first = results.get("first_run")
    if first:
        parts += ["### First impression", ""]
        if first.get("skipped"):
            parts += [f"`make run` on a fresh clone: {first['skipped']}.", ""]
        else:
            stage_names = list(first["runs"][0]["stages"])
            rows = [
                [
                    str(i + 1),
                    f"{r['load_average']:.1f}",
                    _s(r["seconds"]),
                    *(_s(r["stages"].get(name)) for name in stage_names),
                    _s(r.get("spark_start_seconds")),
                    _s(r["outside_stages_seconds"]),
                    _n(r["peak_rss_mb"]),
                ]
                for i, r in enumerate(first["runs"])
            ]
            parts += [
                f"`make run` (default sample: yellow 3 x 100,000 rows, green, fhv and fhvhv 30,000 each) on a fresh"
                f" `git clone` of `{first['commit'][:7]}` in the system temp dir, {len(first['runs'])} times, one"
                " after the other; `.venv` is present (links to this checkout's venv, with the install stamp of the"
                " clone's requirements, so `make` installs nothing); the clone's own embedded PostgreSQL is created"
                " (initdb) by the run. Time: from `make run` to the last line of its summary. Stage times from"
                ' the run\'s report (`.local/runs/latest.json`); "outside" is make, Python start, PostgreSQL'
                " initdb/start and the summary. Target: <= 45 s.",
                "",
                _table(["run", "load average", "to summary", *stage_names, "Spark start", "outside", "peak MiB"], rows),
                "",
                f"Median {_s(first['median_seconds'])}, min {_s(min(first['seconds']))}, max"
                f" {_s(max(first['seconds']))}.",
                "",
            ]
    mem_rows = []
    if ingest:
        mem_rows.append(["Ingest: Spark (Python driver + JVM)", _n(ingest["spark"]["peak_rss_mb"]), ""])
        mem_rows.append(["Ingest: DuckDB floor", _n(ingest["floor"]["peak_rss_mb"]), ""])
    if load:
        for name, v in (load.get("variants") or {"loader": load["loader"]}).items():
            mem_rows.append([f"Load: {name}", _n(v["peak_rss_mb"]), _n(v["peak_server_mb"])])
        mem_rows.append(["Load: raw COPY", _n(load["floor"]["peak_rss_mb"]), _n(load["floor"]["peak_server_mb"])])
    if dbt:
        fb = dbt["full_build"]
        peak = lambda runs, key: max(r[key] for r in runs)  # noqa: E731
        mem_rows.append(["dbt full build", _n(fb["peak_rss_mb"]), _n(fb["peak_server_mb"])])
        every_inc = [r for runs in dbt["incremental"].values() for r in runs]
        mem_rows.append(["dbt +1 month", _n(peak(every_inc, "peak_rss_mb")), _n(peak(every_inc, "peak_server_mb"))])
        mem_rows.append(
            [
                "dbt full refresh",
                _n(peak(dbt["full_refresh"], "peak_rss_mb")),
                _n(peak(dbt["full_refresh"], "peak_server_mb")),
            ]
        )
    if many:
        mem_rows.append(["Many files: Spark", _n(many["spark"]["peak_rss_mb"]), ""])
        mem_rows.append(["Many files: DuckDB floor", _n(many["floor"]["peak_rss_mb"]), ""])
    if hvfhv:
        mem_rows.append(["HVFHV ingest: Spark (Python driver + JVM + workers)", _n(series["spark"]["peak_rss_mb"]), ""])
        mem_rows.append(["HVFHV ingest: DuckDB floor", _n(series["floor"]["peak_rss_mb"]), ""])
        hl = hvfhv["load"]
        mem_rows.append(["HVFHV load: loader", _n(hl["loader"]["peak_rss_mb"]), _n(hl["loader"]["peak_server_mb"])])
        mem_rows.append(["HVFHV load: raw COPY", _n(hl["floor"]["peak_rss_mb"]), _n(hl["floor"]["peak_server_mb"])])
    if zones:
        mem_rows.append(["Zone assignment", _n(zones["peak_rss_mb"]), ""])
    if first and not first.get("skipped"):
        mem_rows.append(
            [
                "`make run`, fresh clone (make + Python + JVM + workers)",
                _n(max(r["peak_rss_mb"] for r in first["runs"])),
                "",
            ]
        )
    parts += [
        "### Peak memory",
        "",
        "Sampled every 0.1 s: RSS of the stage's process tree, and PSS of the PostgreSQL backends serving the "
        "benchmark database (shared buffers counted once).",
        "",
        _table(["stage", "client MiB", "PostgreSQL MiB"], mem_rows),
        "",
        "### Environment",
        "",
        _table(["component", "version"], [[k, v] for k, v in env["versions"].items()]),
        "",
        "PostgreSQL settings (the embedded server's defaults): "
        + ", ".join(f"`{k}={v}`" for k, v in env["postgres_settings"].items())
        + ".",
        "",
    ]
    return "\n".join(parts)


HEADER = """# Benchmarks

`make bench` (`SCALE=` rows per month, default 200,000) measures each stage of the local pipeline beside
the fastest way to do the same work on the same machine. Each `SCALE=` section below is rewritten by the
run at that scale (`tests/bench/run_bench.py`); raw figures are in `docs/bench/results-<scale>.json`.
Timings are never pass/fail tests: `tests/bench/test_bench_smoke.py` only checks that the benchmark
runs at the smallest scale.

"""


def write_markdown(results: dict, out: Path, chart: Path | None) -> None:
    scale = results["scale"]
    begin, end = f"<!-- bench:begin scale={scale} -->", f"<!-- bench:end scale={scale} -->"
    block = f"{begin}\n{section(results, chart, out)}{end}\n"
    text = out.read_text() if out.exists() else HEADER + RESULTS_MARKER + "\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block.rstrip("\n") + tail
    elif RESULTS_MARKER in text:
        text = text.replace(RESULTS_MARKER, RESULTS_MARKER + "\n" + block, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def write_chart(results: dict, path: Path) -> Path | None:
    """Two panels, time per stage (pipeline vs floor) and incremental time vs months of history, and a
    third with the year section's stage times when it ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    year = results.get("year")
    if year:
        fig, (left, right, third) = plt.subplots(1, 3, figsize=(18, 6.5), gridspec_kw={"width_ratios": [1.35, 1, 0.9]})
        import year_bench  # tests/bench/year_bench.py, beside this module

        year_bench.chart(year, third)
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6.5), gridspec_kw={"width_ratios": [1.35, 1]})
    labels, starts, works, colors = [], [], [], []
    ingest, load, dbt = results.get("ingest"), results.get("load"), results.get("dbt")
    pipeline_color, floor_color, start_color, variant_color = "#4C72B0", "#55A868", "#C44E52", "#8C8C8C"
    if ingest:
        labels += ["Ingest: Spark job", "Ingest: DuckDB floor"]
        starts += [_median(ingest["spark"]["session_seconds"]), 0]
        works += [_median(ingest["spark"]["cold_seconds"]), _median(ingest["floor"]["seconds"])]
        colors += [pipeline_color, floor_color]
    if load:
        variants = load.get("variants") or {"loader": load["loader"]}
        labels += [f"Load: {name}" for name in variants] + [f"Load: raw COPY ({load['floor']['best_format']})"]
        starts += [0] * (len(variants) + 1)
        works += [_median(v["seconds"]) for v in variants.values()] + [_median(load["floor"]["seconds"])]
        colors += [pipeline_color] + [variant_color] * (len(variants) - 1) + [floor_color]
    many, hvfhv = results.get("many_files"), results.get("hvfhv")
    if many:
        labels += [f"{many['files']} files: Spark job", f"{many['files']} files: DuckDB floor"]
        starts += [_median(many["spark"]["session_seconds"]), 0]
        works += [_median(many["spark"]["cold_seconds"]), _median(many["floor"]["seconds"])]
        colors += [pipeline_color, floor_color]
    if hvfhv:
        series, hl = hvfhv["ingest"], hvfhv["load"]
        labels += [
            "HVFHV ingest: Spark job",
            "HVFHV ingest: DuckDB floor",
            "HVFHV load: loader",
            "HVFHV load: raw COPY",
        ]
        starts += [_median(series["spark"]["session_seconds"]), 0, 0, 0]
        works += [
            _median(series["spark"]["cold_seconds"]),
            _median(series["floor"]["seconds"]),
            _median(hl["loader"]["seconds"]),
            _median(hl["floor"]["seconds"]),
        ]
        colors += [pipeline_color, floor_color, pipeline_color, floor_color]
    if dbt:
        h = dbt["history"]
        labels += ["dbt: full build (1 month)", f"dbt: +1 month on {h[-1]}", f"dbt: full refresh ({h[-1]} months)"]
        starts += [0, 0, 0]
        works += [
            dbt["full_build"]["wall_seconds"],
            dbt["incremental_wall_seconds"][str(h[-1])],
            dbt["full_refresh_wall_seconds"],
        ]
        colors += [pipeline_color, pipeline_color, pipeline_color]
    y = list(range(len(labels)))[::-1]
    left.barh(y, starts, color=start_color, label="JVM / session start")
    left.barh(y, works, left=starts, color=colors)
    for yi, s, w in zip(y, starts, works, strict=True):
        left.text(s + w, yi, f" {s + w:.1f} s", va="center", fontsize=8)
    left.set_yticks(y, labels, fontsize=8)
    left.set_xlabel("seconds (median; dbt rows: wall time of the dbt process)")
    left.set_title(f"Time per stage, {results['scale']:,} rows/month", fontsize=10)
    from matplotlib.patches import Patch

    handles = [Patch(color=pipeline_color, label="pipeline"), Patch(color=floor_color, label="floor"),
               Patch(color=start_color, label="JVM / session start")]  # fmt: skip
    if variant_color in colors:
        handles.append(Patch(color=variant_color, label="other load variant (not shipped)"))
    left.legend(handles=handles, fontsize=8, loc="center right")
    left.margins(x=0.15)
    if dbt:
        h = dbt["history"]
        fact = [dbt["incremental_fact_seconds"][str(m)] for m in h]
        wall = [dbt["incremental_wall_seconds"][str(m)] for m in h]
        right.plot(h, fact, "o-", color=pipeline_color, label="+1 month: fact_trips model time")
        right.plot(h, wall, "s--", color="#8172B2", label="+1 month: dbt wall time")
        right.axhline(dbt["full_refresh_fact_seconds"], color=start_color, ls=":",
                      label=f"full refresh at {h[-1]} months (model)")  # fmt: skip
        right.set_xticks(h)
        right.set_ylim(bottom=0)
        right.set_xlabel("months already loaded and built")
        right.set_ylabel("seconds (median)")
        right.set_title(f"Incremental fact_trips vs history, {dbt['rows_per_month']:,} rows/month", fontsize=10)
        right.legend(fontsize=8)
    else:
        right.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
