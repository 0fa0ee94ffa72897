"""The raw file after the job: archived once ingested, moved beside its report when refused, left
alone without an archive root; crashes between copy and delete converge on the rerun (local and S3)."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import pytest
from tlc_samples import write_parquet, yellow_row

from ingestion import glue_entry, job, manifest, spark_session, storage
from ingestion.errors import BadFileError
from ingestion.results import FileResult
from tests.ingestion.moto_lake import CATALOG, moto_lake
from tests.orchestration.tools import REPO_ROOT

GOOD = "yellow_tripdata_2024-01.parquet"
BAD = "yellow_tripdata_2024-02.parquet"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _february_row(i: int) -> dict:
    row = yellow_row(i)
    return {**row, **{k: row[k].replace(month=2) for k in ("tpep_pickup_datetime", "tpep_dropoff_datetime")}}


def _crash_once_on(monkeypatch, victim: str) -> None:
    """storage.delete_file raises the first time it is asked to delete `victim` (after the copy)."""
    real = storage.delete_file
    state = {"armed": True}

    def delete_file(uri: str, version_id: str | None = None) -> None:
        if uri == victim and state["armed"]:
            state["armed"] = False
            raise OSError(f"simulated crash before deleting {uri}")
        real(uri, version_id=version_id)

    monkeypatch.setattr(storage, "delete_file", delete_file)


@pytest.fixture
def local(tmp_path):
    raw = tmp_path / "landing"
    raw.mkdir()
    good = write_parquet(raw / GOOD, [yellow_row(i) for i in range(20)])
    (raw / BAD).write_bytes(b"")  # refused: file is empty
    roots = {name: str(tmp_path / name) for name in ("lake", "quarantine", "archive")}
    return {"raw": raw, "good": str(good), "bad": str(raw / BAD), "body": good.read_bytes(), **roots}


# ---------- local paths, through real Spark


def test_archive_after_success_and_refused_file_moved_beside_its_report(spark, local, capsys):
    args = ["--lake-root", local["lake"], "--quarantine-root", local["quarantine"], "--archive-root", local["archive"]]
    assert job.main(["--input", local["bad"], "--input", local["good"], *args]) == 1
    refused, ingested = json.loads(capsys.readouterr().out)["files"]

    assert ingested["status"] == "ingested" and ingested["manifest"]["rows_accepted"] == 20
    target = f"{local['archive']}/yellow/{_sha256(local['body'])}/{GOOD}"
    assert ingested["archived_to"] == target
    assert storage.read_text(manifest.manifest_path(local["lake"], GOOD)) is not None
    assert open(target, "rb").read() == local["body"]

    moved = f"{local['quarantine']}/_rejected_files/{BAD}"
    assert refused["status"] == "refused" and refused["moved_to"] == moved
    assert refused["rejection_report"] == f"{moved}.error.json"
    assert json.loads(open(f"{moved}.error.json").read())["problem"] == "file is empty (0 bytes)"
    assert open(moved, "rb").read() == b""
    assert _files(local["raw"]) == {}  # both raw files left the landing folder


def test_a_rerun_after_the_move_reports_the_earlier_outcome(spark, local):
    roots = (local["lake"], local["quarantine"])
    run = {"archive_root": local["archive"], "spark_factory": lambda: spark}
    first = job.run_ingestion([local["good"], local["bad"]], *roots, **run)
    report = open(first[1].rejection_report).read()

    # The same event delivered again: both files are gone from landing.
    messages: list[str] = []
    again = job.run_ingestion([local["good"], local["bad"]], *roots, progress=messages.append, **run)
    assert again[0].status == "skipped" and again[0].archived_to == first[0].archived_to
    assert again[1].status == "refused" and again[1].problem == "file is empty (0 bytes)"
    assert again[1].moved_to == first[1].moved_to
    assert open(first[1].rejection_report).read() == report  # the real reason is kept
    rejected = f"{local['quarantine']}/_rejected_files"
    assert storage.list_files(rejected) == [f"{rejected}/{BAD}", f"{rejected}/{BAD}.error.json"]  # none for GOOD
    assert messages == [
        f"{GOOD}: unchanged (sha256 already ingested), skipped, archived to {first[0].archived_to}",
        f"{BAD}: file is empty (0 bytes) -> refused, now at {first[1].moved_to}",
    ]

    # A fixed upload of the refused month is ingested; its refusal (report and file) is superseded.
    write_parquet(local["raw"] / BAD, [_february_row(i) for i in range(5)])
    [result] = job.run_ingestion([local["bad"]], *roots, **run)
    assert result.status == "ingested" and result.manifest["rows_accepted"] == 5
    assert _files(local["raw"]) == {}
    assert not storage.list_files(f"{local['quarantine']}/_rejected_files")


def test_crash_between_copy_and_delete_then_rerun_converges(spark, local, monkeypatch):
    roots = (local["lake"], local["quarantine"])
    _crash_once_on(monkeypatch, local["good"])
    with pytest.raises(OSError, match="simulated crash"):
        job.run_ingestion([local["good"]], *roots, archive_root=local["archive"], spark_factory=lambda: spark)
    target = f"{local['archive']}/yellow/{_sha256(local['body'])}/{GOOD}"
    assert open(target, "rb").read() == open(local["good"], "rb").read()  # in both places
    assert manifest.read_manifest(local["lake"], GOOD)["sha256"] == _sha256(local["body"])

    def no_spark():
        raise AssertionError("the rerun has nothing to ingest")

    [rerun] = job.run_ingestion([local["good"]], *roots, archive_root=local["archive"], spark_factory=no_spark)
    assert rerun.status == "skipped" and rerun.archived_to == target
    assert set(_files(local["raw"])) == {BAD}
    assert storage.list_files(local["archive"]) == [target]


def test_without_archive_root_no_raw_file_is_moved_or_deleted(spark, local):
    """The CLI and `make run` dispose of files as the Glue job does (`job.dispose`), minus the moves: a
    refused file is copied beside its report, the user's folder is left as it was."""
    before = _files(local["raw"])
    results = job.run_ingestion(
        [local["good"], local["bad"]], local["lake"], local["quarantine"], spark_factory=lambda: spark
    )
    assert [r.status for r in results] == ["ingested", "refused"]
    kept = f"{local['quarantine']}/_rejected_files/{BAD}"
    assert results[0].archived_to is None and results[1].moved_to == kept
    assert _files(local["raw"]) == before
    assert storage.list_files(f"{local['quarantine']}/_rejected_files") == [kept, f"{kept}.error.json"]
    # the file delivered again, now good: ingested, and the copy of its refusal goes with the report
    write_parquet(Path(local["bad"]), [_february_row(i) for i in range(5)])
    [again] = job.run_ingestion([local["bad"]], local["lake"], local["quarantine"], spark_factory=lambda: spark)
    assert again.status == "ingested"
    assert storage.list_files(f"{local['quarantine']}/_rejected_files") == []
    assert job.parse_args(["--input", "x", "--lake-root", "l", "--quarantine-root", "q"]).archive_root is None


def test_move_file_onto_itself_keeps_the_file(tmp_path):
    path = tmp_path / "a" / GOOD
    path.parent.mkdir()
    path.write_bytes(b"x")
    assert job.move_file(str(path), str(tmp_path / "a" / "." / GOOD)) == str(tmp_path / "a" / "." / GOOD)
    assert path.read_bytes() == b"x"


# ---------- S3 (moto). moto's mock lives in this process and Spark's Python workers are other
# processes, so here the job's Spark step is done in this process (`execute(in_process=True)`: exactly
# what each Spark task runs, then the commit), then the archive step, all on the real S3 code paths.
# A rerun with nothing left to ingest is the real `run_ingestion` (it starts no Spark).

LANDING, LAKE, QUARANTINE, ARCHIVE = "tlc-landing", "tlc-lake", "tlc-quarantine", "tlc-archive"
ROOTS = (f"s3://{LAKE}/", f"s3://{QUARANTINE}/")


@pytest.fixture
def s3(monkeypatch):
    with moto_lake(monkeypatch, [LANDING, LAKE, QUARANTINE, ARCHIVE]) as client:
        yield client


def _keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def _run_in_process(inputs: list[str], archive_root: str) -> list[FileResult]:
    """run_ingestion with the Spark step in this process (see above)."""
    plan = job.plan(inputs, *ROOTS, catalog=CATALOG)
    assert not [item for item in plan.items if not isinstance(item, FileResult) and item.unchanged], "a rerun"
    return job.archive(job.execute(plan, in_process=True), *ROOTS, archive_root)


def _no_spark():
    raise AssertionError("the rerun has nothing to ingest")


def _land(client, tmp_path) -> tuple[str, bytes]:
    body = write_parquet(tmp_path / GOOD, [yellow_row(i) for i in range(12)]).read_bytes()
    client.put_object(Bucket=LANDING, Key=f"landing/{GOOD}", Body=body)
    return f"s3://{LANDING}/landing/{GOOD}", body


def test_s3_archive_after_success_and_crash_between_copy_and_delete(s3, tmp_path, monkeypatch):
    uri, body = _land(s3, tmp_path)
    archived_key = f"yellow/{_sha256(body)}/{GOOD}"
    with monkeypatch.context() as patch:
        _crash_once_on(patch, uri)
        with pytest.raises(OSError, match="simulated crash"):
            _run_in_process([uri], f"s3://{ARCHIVE}/")
    assert _keys(s3, LANDING) == [f"landing/{GOOD}"] and _keys(s3, ARCHIVE) == [archived_key]
    parts = [k for k in _keys(s3, LAKE) if k.startswith("yellow_trips/data/service=yellow/year=2024/month=1/")]
    assert len(parts) == 1 and f"_manifests/{GOOD}.json" in _keys(s3, LAKE)

    # The rerun: same sha256 -> skipped (no Spark), then the archive is finished.
    [rerun] = job.run_ingestion(
        [uri], *ROOTS, archive_root=f"s3://{ARCHIVE}/", spark_factory=_no_spark, catalog=CATALOG
    )
    assert rerun.status == "skipped" and rerun.archived_to == f"s3://{ARCHIVE}/{archived_key}"
    assert _keys(s3, LANDING) == [] and _keys(s3, ARCHIVE) == [archived_key]
    assert s3.get_object(Bucket=ARCHIVE, Key=archived_key)["Body"].read() == body
    assert manifest.read_manifest(ROOTS[0], GOOD)["sha256"] == _sha256(body)


def test_s3_archive_after_success_in_one_run(s3, tmp_path):
    uri, body = _land(s3, tmp_path)
    [result] = _run_in_process([uri], f"s3://{ARCHIVE}")
    assert result.status == "ingested" and result.manifest["rows_accepted"] == 12
    assert result.manifest["source_path"] == uri
    assert result.archived_to == f"s3://{ARCHIVE}/yellow/{_sha256(body)}/{GOOD}"
    assert _keys(s3, LANDING) == [] and _keys(s3, ARCHIVE) == [f"yellow/{_sha256(body)}/{GOOD}"]
    lake_keys = _keys(s3, LAKE)
    assert f"_manifests/{GOOD}.json" in lake_keys
    assert not [k for k in lake_keys if k.startswith("_staging/")]


def test_s3_refused_file_is_moved_beside_its_report(s3, tmp_path):
    body = write_parquet(tmp_path / BAD, [yellow_row(i) for i in range(5)]).read_bytes()[:-40]
    s3.put_object(Bucket=LANDING, Key=f"landing/{BAD}", Body=body)
    uri = f"s3://{LANDING}/landing/{BAD}"
    [result] = _run_in_process([uri], f"s3://{ARCHIVE}/")
    assert result.status == "refused" and result.problem == "truncated or corrupt Parquet (no footer)"
    assert result.moved_to == f"s3://{QUARANTINE}/_rejected_files/{BAD}"
    assert _keys(s3, LANDING) == [] and _keys(s3, ARCHIVE) == []
    assert _keys(s3, QUARANTINE) == [f"_rejected_files/{BAD}", f"_rejected_files/{BAD}.error.json"]
    assert s3.get_object(Bucket=QUARANTINE, Key=f"_rejected_files/{BAD}")["Body"].read() == body
    report = json.loads(storage.read_text(result.rejection_report))
    assert report["problem"] == result.problem and report["source_path"] == uri

    # Delivered twice: the second run finds nothing in landing and keeps the first refusal as it is.
    [again] = job.run_ingestion(
        [uri], *ROOTS, archive_root=f"s3://{ARCHIVE}/", spark_factory=_no_spark, catalog=CATALOG
    )
    assert again.status == "refused" and again.problem == result.problem
    assert json.loads(storage.read_text(result.rejection_report)) == report


# ---------- the Glue entry point's optional --archive_root


def test_glue_entry_passes_archive_root_only_when_given(monkeypatch):
    base = ["script.py", "--JOB_NAME", "x", "--inputs", "s3://b/a.parquet", "--lake_root", "s3://l/",
            "--quarantine_root", "s3://q/"]  # fmt: skip
    assert "archive_root" not in glue_entry.resolve_arguments(base)
    assert glue_entry.resolve_arguments([*base, "--archive_root", "s3://a/"])["archive_root"] == "s3://a/"

    asked = []

    def get_resolved_options(argv, names):
        asked.append(names)
        return {name: argv[argv.index(f"--{name}") + 1] for name in names}

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    assert "archive_root" not in glue_entry.resolve_arguments(base)
    assert glue_entry.resolve_arguments([*base, "--archive_root", "s3://a/"])["archive_root"] == "s3://a/"
    assert asked == [["inputs", "lake_root", "quarantine_root"], ["inputs", "lake_root", "quarantine_root",
                                                                  "archive_root"]]  # fmt: skip

    seen = {}
    monkeypatch.setattr(job, "run_ingestion", lambda *a, **kw: seen.update(kw) or [])
    monkeypatch.setattr(spark_session, "get_spark", lambda: None)
    glue_entry.main([*base, "--archive_root", "s3://a/"])
    assert seen["archive_root"] == "s3://a/" and seen["hash_files"] is False


def test_s3_the_pinned_object_version_is_read_hashed_archived_and_deleted_alone(s3, tmp_path):
    """Issue 13 item 9: a file re-uploaded while its run works keeps its own version in landing; the run
    reads, hashes, records, archives and deletes exactly the version its upload event named."""
    s3.put_bucket_versioning(Bucket=LANDING, VersioningConfiguration={"Status": "Enabled"})
    uri, first = _land(s3, tmp_path)
    first_version = s3.head_object(Bucket=LANDING, Key=f"landing/{GOOD}")["VersionId"]
    (tmp_path / "again").mkdir()
    second = write_parquet(tmp_path / "again" / GOOD, [yellow_row(i) for i in range(5)]).read_bytes()
    s3.put_object(Bucket=LANDING, Key=f"landing/{GOOD}", Body=second)  # the re-upload, mid-run

    plan = job.plan([uri], *ROOTS, versions={uri: first_version})
    [item] = plan.items
    assert item.sha256 == _sha256(first) and item.inspection.raw.version_id == first_version
    result = job.ingest_inspected(item.inspection, *ROOTS, item.sha256, catalog=CATALOG)
    assert result.manifest["rows_read"] == 12 and result.manifest["source_version"] == first_version
    [archived] = job.archive([result], *ROOTS, f"s3://{ARCHIVE}/")

    assert archived.archived_to == f"s3://{ARCHIVE}/yellow/{_sha256(first)}/{GOOD}"
    assert s3.get_object(Bucket=ARCHIVE, Key=f"yellow/{_sha256(first)}/{GOOD}")["Body"].read() == first
    versions = s3.list_object_versions(Bucket=LANDING, Prefix="landing/").get("Versions", [])
    assert [v["VersionId"] for v in versions] != [] and first_version not in [v["VersionId"] for v in versions]
    assert s3.get_object(Bucket=LANDING, Key=f"landing/{GOOD}")["Body"].read() == second, "the re-upload stays"


def test_s3_a_hand_started_run_pins_the_current_version_when_it_plans(s3, tmp_path):
    s3.put_bucket_versioning(Bucket=LANDING, VersioningConfiguration={"Status": "Enabled"})
    uri, first = _land(s3, tmp_path)
    current = s3.head_object(Bucket=LANDING, Key=f"landing/{GOOD}")["VersionId"]
    [item] = job.plan([uri], *ROOTS).items
    assert item.inspection.raw.version_id == current and item.sha256 == _sha256(first)


def _readme_bullet(title: str) -> str:
    """One "- **title**: ..." bullet of infra/README.md, on one line."""
    text = (REPO_ROOT / "infra" / "README.md").read_text()
    start = text.index(f"- **{title}**")
    end = text.find("\n- **", start + 1)
    return " ".join(text[start : end if end > 0 else None].split())


def test_s3_an_archived_upload_leaves_nothing_in_the_versioned_landing_bucket(s3, tmp_path):
    """The landing bucket is versioned (infra/modules/bucket). Once the upload is archived, the job has deleted
    the exact version it read (DeleteObject with its VersionId): S3 removes that version for good and adds no
    delete marker ("Deleting object versions",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html), so no noncurrent copy
    is left for the lifecycle rule to keep: the archive holds the only copy. infra/README.md must say so."""
    s3.put_bucket_versioning(Bucket=LANDING, VersioningConfiguration={"Status": "Enabled"})
    uri, body = _land(s3, tmp_path)
    [result] = _run_in_process([uri], f"s3://{ARCHIVE}/")
    assert result.status == "ingested" and result.source_version, "the job pinned the version it read"

    left = s3.list_object_versions(Bucket=LANDING, Prefix="landing/")
    assert left.get("Versions", []) == [] and left.get("DeleteMarkers", []) == [], left
    [copy] = s3.list_object_versions(Bucket=ARCHIVE)["Versions"]
    assert s3.get_object(Bucket=ARCHIVE, Key=copy["Key"])["Body"].read() == body

    where_it_goes = _readme_bullet("Where an uploaded file goes")
    assert "noncurrent version" not in where_it_goes.replace("no noncurrent version", ""), (
        "infra/README.md says an ingested file stays in landing as a noncurrent version; the job deletes it for good"
    )
    assert "no noncurrent version and no delete marker" in where_it_goes
    assert "only copy" in where_it_goes


def test_a_local_file_refused_into_an_s3_quarantine_keeps_its_report_only(monkeypatch, tmp_path):
    with moto_lake(monkeypatch, [QUARANTINE]) as client:
        empty = tmp_path / BAD
        empty.write_bytes(b"")
        [result] = job.dispose(
            [job.refusal(str(empty), BadFileError(str(empty), "file is empty (0 bytes)"), f"s3://{QUARANTINE}/")],
            f"s3://{LAKE}/",
            f"s3://{QUARANTINE}/",
        )
        assert result.moved_to is None and empty.exists()
        assert _keys(client, QUARANTINE) == [f"_rejected_files/{BAD}.error.json"]
