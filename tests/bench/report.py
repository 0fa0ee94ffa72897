"""Render a benchmark run: the chart (PNG) and its section of BENCHMARKS.md.

The section for one scale sits between `<!-- bench:begin scale=N -->` and `<!-- bench:end scale=N -->`
and is replaced when that scale is measured again; every other line of the file (other scales, the
hand-written notes on what was tried) is kept.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

SECTION_TITLES = ("Summary", "Ingest", "Load", "dbt", "Peak memory", "Environment")
TARGETS = {
    "ingest": 3.0,  # Spark (incl. JVM start) / DuckDB floor, at most
    "load": 0.70,  # loader throughput / raw COPY throughput, at least
    "history": 1.3,  # incremental(12) / incremental(1), at most
    "refresh": 8.0,  # full refresh(12) / incremental(12), at least
}
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
                f"<= {TARGETS['ingest']:.0f}x",
                _met(ingest["ratio_total"] <= TARGETS["ingest"]),
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
                f">= {TARGETS['load']:.0%}",
                _met(load["throughput_share"] >= TARGETS["load"]),
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
                f"<= {TARGETS['history']}x",
                _met(dbt["ratio_history"] <= TARGETS["history"]),
            ]
        )
        rows.append(
            [
                f"dbt full refresh vs +1 month, {last} months of history",
                f"{_s(dbt['full_refresh_fact_seconds'])} vs {_s(inc[str(last)])} (fact_trips)",
                "",
                f"{dbt['ratio_refresh']:.1f}x (wall {dbt['ratio_refresh_wall']:.1f}x)",
                f">= {TARGETS['refresh']:.0f}x",
                _met(dbt["ratio_refresh"] >= TARGETS["refresh"]),
            ]
        )
    return rows


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

    ingest = results.get("ingest")
    if ingest:
        spark, floor = ingest["spark"], ingest["floor"]
        exp = ingest["expected"]
        parts += [
            "### Ingest",
            "",
            f"One synthetic yellow month, `{ingest['source_file']}` ({ingest['rows']:,} rows, "
            f"{ingest['source_mb']:.0f} MiB Parquet, {exp['rows_quarantined']:,} rows with anomalies at known counts). "
            "Spark: each repetition is a fresh process: session start (JVM launch included), then the job "
            "(`ingestion.job.run_ingestion`: sha256, read, classify, both partition writes, manifest) on the month "
            "(cold), then again into another lake (warm). Floor: `tests/bench/floor_ingest.py`, the same read -> "
            "validate -> partition writes in DuckDB, a fresh process per repetition. Floor and Spark repetitions "
            "alternate, so load from other users of the machine falls on both.",
            "",
            _table(
                ["", "median", "all runs (s)"],
                [
                    [
                        "Spark session start (JVM)",
                        _s(_median(spark["session_seconds"])),
                        _all(spark["session_seconds"]),
                    ],
                    ["Spark job, cold (first file)", _s(_median(spark["cold_seconds"])), _all(spark["cold_seconds"])],
                    ["Spark job, warm (second file)", _s(_median(spark["warm_seconds"])), _all(spark["warm_seconds"])],
                    ["Spark start + cold job", _s(_median(spark["total_seconds"])), _all(spark["total_seconds"])],
                    ["DuckDB floor", _s(_median(floor["seconds"])), _all(floor["seconds"])],
                ],
            ),
            "",
            f"Ratios to the floor: start + cold job {ingest['ratio_total']:.1f}x, cold job alone "
            f"{ingest['ratio_cold']:.1f}x, warm job {ingest['ratio_warm']:.1f}x. "
            f"Accepted/quarantined rows per reason identical to the generator's expectation in every run: "
            f"**{'yes' if ingest['counts_identical'] else 'NO'}** "
            f"({exp['rows_accepted']:,} accepted, {exp['rows_quarantined']:,} quarantined).",
            "",
        ]
    load = results.get("load")
    if load:
        floor = load["floor"]
        by_format = floor["seconds_by_format"]
        variants = load.get("variants") or {"loader": {**load["loader"], "label": "loader"}}
        average = load.get("load_average")
        parts += [
            "### Load",
            "",
            f"The month's lake partition ({load['rows']:,} rows: accepted + quarantined) swapped into PostgreSQL by "
            "`orchestration/local/load_postgres.py` (one transaction: child table truncate + COPY, quarantine "
            "rows, load log, ANALYZE), each repetition a real reload. The other variants "
            "(`tests/bench/load_variants.py`) do the same transaction with another way of turning Arrow batches "
            "into binary COPY. Floor: the same rows, rendered beforehand by PostgreSQL itself (`COPY ... TO`), "
            "streamed with `COPY ... FROM STDIN` into fresh plain tables in one transaction, in both formats; the "
            "faster is the floor. Every variant and the floor run once per repetition (the variants' order "
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
    dbt = results.get("dbt")
    if dbt:
        rows = []
        fb = dbt["full_build"]
        smaller = (
            " (smaller than the ingest month, to keep the run short)"
            if dbt["rows_per_month"] < results["scale"]
            else ""
        )
        rows.append(
            [
                "full `dbt build` (seeds, all models, tests), 1 month loaded",
                _s(fb["fact_seconds"]),
                _s(fb["wall_seconds"]),
                "",
            ]
        )
        for h in dbt["history"]:
            runs = dbt["incremental"][str(h)]
            rows.append(
                [
                    f"`dbt run -s fact_trips`, +1 month on {h} month(s)",
                    _s(dbt["incremental_fact_seconds"][str(h)]),
                    _s(dbt["incremental_wall_seconds"][str(h)]),
                    _all([r["fact_seconds"] for r in runs]),
                ]
            )
        rows.append(
            [
                f"`dbt run -s fact_trips --full-refresh`, {dbt['history'][-1]} months",
                _s(dbt["full_refresh_fact_seconds"]),
                _s(dbt["full_refresh_wall_seconds"]),
                _all([r["fact_seconds"] for r in dbt["full_refresh"]]),
            ]
        )
        parts += [
            "### dbt",
            "",
            f"{dbt['rows_per_month']:,} synthetic rows per month{smaller}, "
            f"{dbt['months_loaded']} months generated and ingested into a lake with the DuckDB floor (same rules, same "
            "accepted rows), loaded with the loader; the fact ends with "
            f"{dbt['fact_rows']:,} rows in {dbt['fact_months']} months. +1 month: the first repetition is a new month; "
            "later ones re-trigger it by bumping its `raw.partition_loads.loaded_at` (a reload); "
            "`VACUUM ANALYZE fact_trips` before each timed run. fact_trips time is the model's `execution_time` "
            "in run_results.json; wall is the whole dbt process (start-up, parse, connection, model).",
            "",
            _table(["", "fact_trips (median)", "wall (median)", "fact_trips, all runs (s)"], rows),
            "",
            f"Incremental with {dbt['history'][-1]} vs {dbt['history'][0]} month(s) of history: "
            f"{dbt['ratio_history']:.2f}x (wall {dbt['ratio_history_wall']:.2f}x); full refresh / incremental at "
            f"{dbt['history'][-1]} months: {dbt['ratio_refresh']:.1f}x (wall {dbt['ratio_refresh_wall']:.1f}x).",
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
    """Two panels: time per stage (pipeline vs floor) and incremental time vs months of history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.35, 1]})
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
