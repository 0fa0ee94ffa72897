"""The bad-input corpus (tests/fixtures/bad/corpus.py) through the whole pipeline.

An unusable file: exit 2; the first line of stderr names the file and the problem; the file is copied
to `<quarantine>/_rejected_files/` beside `<name>.error.json`; nothing of it is anywhere (lake,
quarantine partitions, manifests, warehouse); the previous warehouse state is unchanged. A usable file
with a bad row (ragged CSV line, also inside a .csv.gz; text in a numeric column): the row is quarantined
with its reason, the rest of the file loads, the other months are unchanged.

Runs in this process (the runner's `main()`, the same entry point as `make run`) against a clone of the
reference warehouse, which already holds 2024-01 and 2024-02.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from orchestration.local.run_pipeline import main as run_pipeline
from tests.fixtures.bad import corpus
from tests.reliability import harness

pytestmark = pytest.mark.integration

REFUSED = [case for case in corpus.CASES if case.refused]
USABLE = [case for case in corpus.CASES if not case.refused]


@pytest.fixture(scope="module")
def warehouse(reference, tmp_path_factory):
    """One clone for all refusals: each must leave it exactly as the reference left it."""
    return reference.clone("bad_input", tmp_path_factory.mktemp("bad_input"))


def _not_rejected(files: dict[str, int]) -> dict[str, int]:
    return {path: size for path, size in files.items() if "/_rejected_files/" not in path}


def test_the_corpus_covers_every_item_of_the_issue():
    items = {case.issue_item for case in corpus.CASES}
    assert items == {
        "empty file",
        "header only",
        "truncated Parquet",
        "corrupt Parquet footer",
        "CSV not UTF-8",
        "CSV with a ragged row",
        "wrong columns",
        "wrong types (text in a numeric column)",
        "a month that does not match the file name",
        "the same file delivered twice",  # one delivery holding a month twice; a re-delivery: test_rel_idempotency
        "a file of the wrong service (green named as yellow)",
        "a zip/gzip where CSV is expected",
        # issue 12
        "a Parquet file with an intact footer and a corrupt data page",
        "a month whose rows are nearly all quarantined",
        "gzip-compressed CSVs",  # not gzip, corrupt past the first 64 KiB, and a usable one with a bad row
        # issue 20
        "a NUL byte in a text field",  # CSV and Parquet
        "a code longer than the warehouses store or staging typed",  # past 65,535 bytes, and YES
        "a quoted newline after a short line",
        "a file with no revenue columns",
        "a file in a sub-folder of SOURCE",
        "the same month under another name in a later run",
        "a file name with non-ASCII digits",
    }


def test_the_corpus_is_the_same_bytes_every_time(tmp_path):
    for case in corpus.CASES:
        first = corpus.build(case, tmp_path / "a")
        second = corpus.build(case, tmp_path / "b")
        assert _files(first) == _files(second)


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
def test_an_unusable_file_is_refused_quarantined_and_changes_nothing(case, warehouse, reference, tmp_path, capsys):
    work_dir, database = warehouse
    source = corpus.build(case, tmp_path)
    lake_before = _not_rejected(harness.lake_files(work_dir))
    versions_before = harness.loaded_versions(database)
    capsys.readouterr()

    code = run_pipeline(["--source", str(source), "--work-dir", str(work_dir), "--database", database])
    err = capsys.readouterr().err

    # non-zero exit, and a first line naming the file and the problem
    assert code == 2, err
    first_line = err.splitlines()[0]
    prefix = f"error: {case.refused if case.copied else source / case.refused}: "
    assert first_line.startswith(prefix), first_line
    assert re.search(case.problem, first_line[len(prefix) :]), first_line
    assert "\nnothing was loaded into the warehouse" in err
    summary = json.loads((work_dir / "runs" / "latest.json").read_text())
    assert summary["failed_stage"] == case.stage

    # the file is in the quarantine with its error report (a file refused by its name alone is not
    # taken for a TLC file: named, not copied); what was delivered is left as it was
    rejected = work_dir / "quarantine" / "_rejected_files"
    if case.copied:
        assert (rejected / case.refused).read_bytes() == (source / case.refused).read_bytes()
        report = json.loads((rejected / f"{case.refused}.error.json").read_text())
        assert report["source_file"] == case.refused
        assert report["source_path"] == str(source / case.refused)
        assert re.search(case.problem, report["problem"]), report
    else:
        assert not (rejected / case.refused).exists()
    assert (source / case.refused).is_file()

    # no partial rows anywhere: lake and quarantine partitions and manifests untouched, no staging
    # left behind, the warehouse exactly as the reference run left it
    assert _not_rejected(harness.lake_files(work_dir)) == lake_before
    assert harness.unreferenced_files(work_dir) == []
    assert harness.warehouse_state(database) == reference.state
    assert harness.loaded_versions(database) == versions_before


def test_usable_files_quarantine_the_bad_row_and_load_the_rest(reference, tmp_path, capsys):
    """Every usable case in one delivery (one month each): a bad row quarantined with its reason, a long
    or odd code kept and counted whole, a file with no revenue loaded with its warning, a month under
    another name replacing the earlier delivery whole, a file in a sub-folder named as passed over."""
    work_dir, database = reference.clone("bad_rows", tmp_path)
    source = tmp_path / "usable"
    names = {}
    for case in USABLE:  # one file each, one month each, delivered together
        folder = corpus.build(case, tmp_path / "cases")
        [path] = [p for p in folder.rglob("*") if p.is_file()]
        names[case.id] = path.name
        shutil.copytree(folder, source, dirs_exist_ok=True)

    code = run_pipeline(["--source", str(source), "--work-dir", str(work_dir), "--database", database])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out

    replaced = {_month(case.replaces) for case in USABLE if case.replaces}
    kept = [month for month in ((2024, 1), (2024, 2)) if month not in replaced]
    assert harness.warehouse_state(database, months=kept) == harness.warehouse_state(reference.database, kept)
    manifests = harness.manifests(work_dir)
    summary = json.loads((work_dir / "runs" / "latest.json").read_text())
    notes = {f["source_file"]: f.get("notes") or [] for f in summary["files"]}
    with harness.connect(database) as conn, conn.cursor() as cur:
        for case in USABLE:
            name = names[case.id]
            (year, month) = _month(name)
            cur.execute("select source_file, row_count from raw.partition_loads where year = %s and month = %s",
                        (year, month))  # fmt: skip
            loads = cur.fetchall()
            if case.passed_over:
                assert any(e.startswith(case.passed_over) for e in summary["passed_over"]), summary["passed_over"]
                assert f"passed over, not read: {case.passed_over}" in out
                assert f"{name}.json" not in manifests and loads == [], name
                continue
            manifest = manifests[f"{name}.json"]
            bad = 1 if case.quarantined_row else 0
            assert manifest["rows_read"] == corpus.ROWS, name
            assert manifest["rows_quarantined"] == bad, name
            assert manifest["quarantined_by_reason"] == ({"unparseable": 1} if bad else {}), name
            assert manifest["warnings_by_code"] == case.warnings, name
            assert loads == [(name, corpus.ROWS - bad)], name  # the month's one source and one load record
            if case.note:
                assert [n for n in notes[name] if re.search(case.note, n)], (name, notes[name])
            cur.execute(
                "select source_row, reason_code, reason from raw.quarantined_trips where source_file = %s", (name,)
            )
            quarantined = cur.fetchall()
            if bad:
                [(row, reason_code, reason)] = quarantined
                assert (row, reason_code) == (case.quarantined_row, "unparseable"), name
                assert re.search(case.problem, reason), reason
            else:
                assert quarantined == [], name
            cur.execute(
                # a trip's file: the one its service and month were loaded from (the lineage the fact keeps)
                "select count(*), count(*) filter (where source_row = %s), count(total_amount),"
                " count(distinct loads.source_file) from analytics.fact_trips as trips"
                " join analytics_staging.stg_tlc__partition_loads as loads using (service, pickup_month)"
                " where extract(year from pickup_month) = %s and extract(month from pickup_month) = %s",
                (case.quarantined_row, year, month),
            )
            revenue = 0 if case.id == "no_revenue_columns" else corpus.ROWS - bad
            assert cur.fetchone() == (corpus.ROWS - bad, 0, revenue, 1), name
        # codes reach the reports whole: the run summary's unknown codes are rpt_unknown_codes' rows
        cur.execute("select code_value from analytics.rpt_unknown_codes where coded_column = 'store_and_fwd_flag'")
        reported = {value for (value,) in cur.fetchall()}
    assert {"YES", "N\nN"} <= reported, reported
    assert not (work_dir / "quarantine" / "_rejected_files").exists(), "nothing was refused"


def _month(name: str) -> tuple[int, int]:
    from ingestion.raw_files import parse_raw_file

    parsed = parse_raw_file(name)
    return parsed.year, parsed.month


def _odd_files(folder) -> None:
    """The odd entries of RELIABILITY.md 8b a folder can hold under a TLC name, one folder each."""
    os.mkfifo(folder / "fifo" / "yellow_tripdata_2024-03.parquet")
    loop = folder / "loop" / "yellow_tripdata_2024-03.parquet"
    loop.symlink_to(loop.with_name("zz-loop"))
    loop.with_name("zz-loop").symlink_to(loop)


def test_the_default_run_passes_after_every_hostile_case_was_tried_in_the_same_clone(reference, tmp_path, capsys):
    """Issue 20's last promise: one work dir and warehouse (a clone of the reference) is given every case
    of the corpus in turn (each refused case alone, the usable ones in one delivery, from a folder whose
    name holds a `"`) and the odd files of 8b (a FIFO, a link loop); then the default run (`make run`:
    no SOURCE, the synthetic sample) there ends OK, reconciles, and each month it delivers has its one
    load record naming the sample's file."""
    work_dir, database = reference.clone("hostile_then_default", tmp_path)
    cases = tmp_path / "cases"

    def run(source) -> int:
        code = run_pipeline(["--source", str(source), "--work-dir", str(work_dir), "--database", database])
        capsys.readouterr()
        return code

    for case in REFUSED:
        assert run(corpus.build(case, cases)) == 2, case.id
    for odd in ("fifo", "loop"):
        (tmp_path / "odd" / odd).mkdir(parents=True)
    _odd_files(tmp_path / "odd")
    for odd in ("fifo", "loop"):
        assert run(tmp_path / "odd" / odd) == 2, odd
    usable = tmp_path / 'tlc " files'
    for case in USABLE:
        shutil.copytree(corpus.build(case, cases), usable, dirs_exist_ok=True)
    assert run(usable) == 0

    code = run_pipeline(["--work-dir", str(work_dir), "--database", database])  # make run's defaults
    assert code == 0, capsys.readouterr().err
    summary = json.loads((work_dir / "runs" / "latest.json").read_text())
    assert summary["exit_status"] == 0
    assert summary["warehouse"]["ok"] and summary["warehouse"]["mismatches"] == [], summary["warehouse"]
    sample = sorted(p.name for p in (work_dir / "sample").iterdir() if not p.name.endswith(".expected.json"))
    assert len(sample) == 6, sample  # yellow 2024-01..03, green, fhv and fhvhv 2024-01
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute(
            "select service, year, month, count(*) from raw.partition_loads group by 1, 2, 3 having count(*) > 1"
        )
        assert cur.fetchall() == [], "a month has one load record"
        cur.execute("select source_file from raw.partition_loads where source_file = any(%s)", (sample,))
        assert sorted(name for (name,) in cur.fetchall()) == sample, "each sample month's source is its file"
