"""Hostile folders (issue 20, RELIABILITY.md section 8b): every file under SOURCE is processed or named as
passed over, a month has one source and one load record, and an odd file is refused with its true reason.

The re-delivery runs the runner's `main()` in this process on a clone of the reference warehouse; the
folder checks stop at ValidateInput (no Spark, no warehouse) and take well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion import synthetic
from ingestion.errors import BadFileError
from ingestion.raw_files import inspect_file, parse_raw_file
from orchestration.local import run_pipeline as runner
from orchestration.local.summary import RunReport
from tests.reliability import harness

JANUARY = "yellow_tripdata_2024-01"


def _summary(work_dir: Path) -> dict:
    return json.loads((work_dir / "runs" / "latest.json").read_text())


def _loads(database: str) -> list[tuple]:
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("select source_file, row_count from raw.partition_loads where year = 2024 and month = 1")
        return cur.fetchall()


def _lake_sources(work_dir: Path) -> dict:
    """(service, year, month) -> the source file of the load-log row describing what the lake holds."""
    from ingestion import lake_tables

    roots = lake_tables.LakeRoots(str(work_dir / "lake"), str(work_dir / "quarantine"))
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    return {key: entry["source_file"] for key, (_, entry) in pinned.described_months().items()}


@pytest.mark.integration
def test_a_month_delivered_under_another_name_replaces_it_whole_and_the_run_says_so(reference, tmp_path, capsys):
    """January was delivered as Parquet (the reference run); it comes again as CSV, with other rows. The
    CSV becomes the month's one source in the lake's load log, raw.partition_loads (one row), the raw
    layer and fact_trips, and the run names the delivery it replaced. Run again, the CSV is unchanged:
    nothing is reloaded and the load record still names it."""
    work_dir, database = reference.clone("other_name", tmp_path)
    folder = tmp_path / "csv"
    expected = synthetic.generate_month(folder, "yellow", 2024, 1, rows=3_000, seed=harness.SEED + 7, fmt="csv")
    (folder / f"{JANUARY}.csv.expected.json").unlink()
    args = harness.pipeline_args(work_dir, database, "--source", str(folder))

    assert runner.main(args) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.strip().startswith(f"{JANUARY}.csv: 3,000 read")]
    assert f"replaces {JANUARY}.parquet" in line, line  # the file's line in the Ingest stage...
    assert f"    {JANUARY}.csv: replaces {JANUARY}.parquet" in out  # ...and the summary
    [file] = _summary(work_dir)["files"]
    assert file["status"] == "ingested" and any(f"replaces {JANUARY}.parquet" in n for n in file["notes"])
    assert _loads(database) == [(f"{JANUARY}.csv", expected["rows_accepted"])]
    assert _lake_sources(work_dir)[("yellow", 2024, 1)] == f"{JANUARY}.csv"
    january = harness.warehouse_state(database, [(2024, 1)])
    assert january["raw.yellow_trips"]["rows"] == expected["rows_accepted"]
    assert january["analytics.fact_trips"]["rows"] == expected["rows_accepted"]
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("select distinct source_file from raw.yellow_trips where year = 2024 and month = 1")
        assert cur.fetchall() == [(f"{JANUARY}.csv",)]
    february = [(2024, 2)]
    assert harness.warehouse_state(database, february) == harness.warehouse_state(reference.database, february)

    versions = harness.loaded_versions(database)
    assert runner.main(args) == 0
    assert [f["status"] for f in _summary(work_dir)["files"]] == ["skipped"]
    assert harness.loaded_versions(database) == versions
    assert _loads(database) == [(f"{JANUARY}.csv", expected["rows_accepted"])]


def test_both_deliveries_of_one_month_in_one_folder_are_refused(tmp_path):
    """A folder holding January as Parquet and as CSV gives the month two sources: the run is refused
    before anything is written, naming both."""
    source = tmp_path / "both"
    for fmt in ("parquet", "csv"):
        synthetic.generate_month(source, "yellow", 2024, 1, rows=50, seed=1, fmt=fmt)
    state = _state(source, tmp_path)
    with pytest.raises(runner.InputError) as refused:
        runner.validate_input(state)
    assert f"{JANUARY}.parquet" in str(refused.value) and f"{JANUARY}.csv" in str(refused.value)
    assert "duplicate input" in str(refused.value)


# ---------- every file under SOURCE is processed or named


def _state(source: Path, tmp_path: Path) -> runner.RunState:
    config = runner.RunConfig(source=source, work_dir=tmp_path / "work", months=[], rows_per_month=0, seed=0)
    return runner.RunState(config=config, report=RunReport(run_id="test", work_dir=config.work_dir))


def test_every_file_under_source_is_read_or_named_as_passed_over(tmp_path, capsys):
    """Files in sub-folders (a TLC file among them), a hidden file, a note and a link to a folder are not
    read: each is named, with why, in the run's output and in its summary (printed and JSON)."""
    source = tmp_path / "source"
    synthetic.generate_month(source, "yellow", 2024, 1, rows=50, seed=1)
    (source / f"{JANUARY}.parquet.expected.json").unlink()
    synthetic.generate_month(source / "2024" / "02", "yellow", 2024, 2, rows=50, seed=1)
    (source / "notes").mkdir()
    (source / "notes" / "README.txt").write_text("where the files come from")
    (source / "empty").mkdir()
    (source / ".DS_Store").write_bytes(b"\0")
    (source / "PROVENANCE.md").write_text("TLC")
    (source / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    state = _state(source, tmp_path)

    stage = runner.validate_input(state)

    assert [p.name for p in state.inputs] == [f"{JANUARY}.parquet"]
    named = state.report.passed_over
    for entry in (
        ".DS_Store",
        "PROVENANCE.md",
        "2024/02/yellow_tripdata_2024-02.parquet (in a sub-folder",
        "2024/02/yellow_tripdata_2024-02.parquet.expected.json (in a sub-folder",
        "notes/README.txt (in a sub-folder",
        "empty/ (an empty sub-folder)",
        "elsewhere/ (a link to a folder, not followed)",
    ):
        assert any(e.startswith(entry) for e in named), (entry, named)
    assert len(named) == 7, named
    out = capsys.readouterr().out
    assert all(f"passed over, not read: {e}" in out for e in named)
    assert "7 passed over" in stage.detail
    assert state.report.as_dict()["passed_over"] == named
    state.report.print()
    printed = capsys.readouterr().out
    assert all(f"    {e}" in printed for e in named)


# ---------- file names matched strictly, odd files refused with their true reason


@pytest.mark.parametrize(
    "name",
    [
        "yellow_tripdata_\u0662\u0660\u0662\u0664-01.parquet",
        "yellow_tripdata_2024-\uff10\uff11.parquet",
        f"{JANUARY}.parquet\n",
    ],
    ids=["arabic-indic-year", "fullwidth-month", "trailing-newline"],
)
def test_a_file_name_matches_only_with_ascii_digits_and_nothing_after_it(tmp_path, name):
    """`\\d` takes any script's digits and `$` matches before a trailing newline: such a name is not a
    TLC name (int() would read the Arabic-Indic year as 2024 and give January a second source)."""
    with pytest.raises(BadFileError, match="name does not match"):
        parse_raw_file(str(tmp_path / name))
    source = tmp_path / "source"
    synthetic.generate_month(source, "yellow", 2024, 1, rows=50, seed=1)
    shutil.copy2(source / f"{JANUARY}.parquet", source / name)
    with pytest.raises(runner.InputError, match="not a TLC trip file"):
        runner.list_source_files(source)


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO (named pipe), not a regular file"


def _loop(path: Path) -> str:
    path.symlink_to(path.with_name("zz-loop"))  # sorted after it: the first refusal named is this one's
    path.with_name("zz-loop").symlink_to(path)
    return "symbolic link loop"


def _unreadable(path: Path) -> str:
    shutil.copy2(path.with_name(f"{JANUARY}.parquet"), path)
    path.chmod(0)
    return "file is not readable (permission denied)"


@pytest.mark.parametrize("make, name", [(_fifo, "fifo"), (_loop, "loop"), (_unreadable, "unreadable")])
def test_an_odd_file_is_refused_with_its_true_reason(tmp_path, make, name):
    """A FIFO is not "empty" (and is never opened: reading it would hang the run), a link loop is not a
    "broken link" or "missing": the folder listing and the file's inspection give the same true reason."""
    if name == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    source = tmp_path / "source"
    synthetic.generate_month(source, "yellow", 2024, 1, rows=50, seed=1)
    odd = source / "yellow_tripdata_2024-02.parquet"
    reason = make(odd)
    with pytest.raises(runner.InputError) as refused:
        runner.list_source_files(source)
    assert str(refused.value).startswith(f"{odd}: {reason}"), refused.value
    with pytest.raises(BadFileError) as inspected:
        inspect_file(str(odd))
    assert inspected.value.problem.startswith(reason), inspected.value.problem


@pytest.mark.parametrize("name", ['tlc " files', 'my "tlc" `id` files'], ids=["one-quote", "quotes-and-backquotes"])
def test_make_run_passes_a_source_path_with_quotes_whole(tmp_path, name):
    """`make run SOURCE=...` hands the path to the runner through the environment: a `"` or a backquote
    in a folder's name is part of the name, not shell syntax (one `"` was a syntax error, a backquoted
    command ran)."""
    folder = tmp_path / name
    folder.mkdir()
    argv = tmp_path / "argv.json"
    stub = tmp_path / "python"  # stands in for the venv's python: records the arguments it was given
    stub.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(argv)!r}, 'w'))\n")
    stub.chmod(0o755)
    result = subprocess.run(
        [shutil.which("make"), "-s", "run", f"SOURCE={folder}", f"PY={stub}", "STAMP=", "PROFILES="],
        cwd=harness.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(argv.read_text()) == ["-m", "orchestration.local.run_pipeline", "--source", str(folder)]
