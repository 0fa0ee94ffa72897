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
    }


def test_the_corpus_is_the_same_bytes_every_time(tmp_path):
    for case in corpus.CASES:
        first = corpus.build(case, tmp_path / "a")
        second = corpus.build(case, tmp_path / "b")
        assert {p.name: p.read_bytes() for p in first.iterdir()} == {p.name: p.read_bytes() for p in second.iterdir()}


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
    prefix = f"error: {case.refused}: "
    assert first_line.startswith(prefix), first_line
    assert re.search(case.problem, first_line[len(prefix) :]), first_line
    assert "\nnothing was loaded into the warehouse" in err
    summary = json.loads((work_dir / "runs" / "latest.json").read_text())
    assert summary["failed_stage"] == case.stage

    # the file is in the quarantine with its error report; what was delivered is left as it was
    rejected = work_dir / "quarantine" / "_rejected_files"
    assert (rejected / case.refused).read_bytes() == (source / case.refused).read_bytes()
    report = json.loads((rejected / f"{case.refused}.error.json").read_text())
    assert report["source_file"] == case.refused
    assert report["source_path"] == str(source / case.refused)
    assert re.search(case.problem, report["problem"]), report
    assert (source / case.refused).is_file()

    # no partial rows anywhere: lake and quarantine partitions and manifests untouched, no staging
    # left behind, the warehouse exactly as the reference run left it
    assert _not_rejected(harness.lake_files(work_dir)) == lake_before
    assert harness.unreferenced_files(work_dir) == []
    assert harness.warehouse_state(database) == reference.state
    assert harness.loaded_versions(database) == versions_before


def test_usable_files_quarantine_the_bad_row_and_load_the_rest(reference, tmp_path, capsys):
    work_dir, database = reference.clone("bad_rows", tmp_path)
    source = tmp_path / "usable"
    source.mkdir()
    names = {}
    for case in USABLE:  # one file each, months 2024-03..06, delivered together
        [path] = corpus.build(case, tmp_path / "cases").iterdir()
        names[case.id] = path.name
        shutil.copy2(path, source / path.name)

    code = run_pipeline(["--source", str(source), "--work-dir", str(work_dir), "--database", database])
    assert code == 0, capsys.readouterr().err

    assert harness.warehouse_state(database, months=[(2024, 1), (2024, 2)]) == reference.state
    manifests = harness.manifests(work_dir)
    with harness.connect(database) as conn, conn.cursor() as cur:
        for case in USABLE:
            name = names[case.id]
            manifest = manifests[f"{name}.json"]
            assert manifest["rows_read"] == corpus.ROWS, name
            assert manifest["rows_quarantined"] == 1, name
            assert manifest["quarantined_by_reason"] == {"unparseable": 1}, name
            cur.execute(
                "select source_row, reason_code, reason from raw.quarantined_trips where source_file = %s", (name,)
            )
            [(row, reason_code, reason)] = cur.fetchall()
            assert (row, reason_code) == (case.quarantined_row, "unparseable"), name
            assert re.search(case.problem, reason), reason
            cur.execute(
                "select count(*), count(*) filter (where source_row = %s) from analytics.fact_trips"
                " where source_file = %s",
                (case.quarantined_row, name),
            )
            assert cur.fetchone() == (corpus.ROWS - 1, 0), name
    assert not (work_dir / "quarantine" / "_rejected_files").exists(), "nothing was refused"
