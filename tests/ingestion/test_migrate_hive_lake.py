"""The migration of a Hive-layout lake (tests/fixtures/hive_lake: what the job wrote before the Iceberg
tables) into the Iceberg lake: every month its manifests name, re-ingested from the archive by the job,
read back with pyiceberg; a second run is a no-op; a month missing from the archive, or whose archived
bytes are not the manifest's sha256, is named and not migrated while the others are; a month the Iceberg
lake already holds from another delivery is kept; the two lakes may not share folders; the old lake and
the archive are never changed. Locally through real Spark, and on S3 with the Glue catalog (moto)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from tlc_samples import SAMPLES_DIR

from ingestion import job, lake_tables, migrate_hive_lake
from tests.ingestion.moto_lake import CATALOG, moto_lake

HIVE_LAKE = Path(__file__).resolve().parents[1] / "fixtures" / "hive_lake"
SUPERSEDED = "yellow_tripdata_2016-07.csv.gz"  # replaced in the Hive lake by the month's .csv
MONTHS = {  # (service, year, month) -> the file the month's newest manifest names
    ("fhv", 2017, 1): "fhv_tripdata_2017-01.csv",
    ("fhvhv", 2019, 2): "fhvhv_tripdata_2019-02.csv",
    ("green", 2017, 1): "green_tripdata_2017-01.csv",
    ("yellow", 2016, 7): "yellow_tripdata_2016-07.csv",
    ("yellow", 2016, 12): "yellow_tripdata_2016-12.csv",
}


def _manifest(name: str) -> dict:
    return json.loads((HIVE_LAKE / "_manifests" / f"{name}.json").read_text())


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _archived(archive: Path, name: str) -> Path:
    m = _manifest(name)
    return archive / m["service"] / m["sha256"] / name


@pytest.fixture
def place(tmp_path):
    """A copy of the Hive lake, its archive (the samples at <archive>/<service>/<sha256>/<file>, the
    superseded .csv.gz left out: it is not needed), and where the Iceberg lake goes."""
    old = tmp_path / "hive-lake"
    shutil.copytree(HIVE_LAKE, old)
    archive = tmp_path / "archive"
    for name in MONTHS.values():
        target = _archived(archive, name)
        target.parent.mkdir(parents=True)
        shutil.copyfile(SAMPLES_DIR / name, target)
        assert hashlib.sha256(target.read_bytes()).hexdigest() == _manifest(name)["sha256"]
    return {"old": old, "archive": archive, "lake": tmp_path / "lake", "quarantine": tmp_path / "quarantine"}


def _args(place) -> list[str]:
    return [
        *("--old-lake", str(place["old"]), "--archive", str(place["archive"])),
        *("--lake", str(place["lake"]), "--quarantine", str(place["quarantine"])),
    ]


def _iceberg(roots: lake_tables.LakeRoots) -> tuple[dict, dict]:
    """({month: (rows, quarantined rows, load-log sha256, load-log source file)}, {table: snapshot id})."""
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    months = {
        key: (state.lake_rows, state.quarantine_rows, entry["sha256"], entry["source_file"])
        for key, (state, entry) in pinned.described_months().items()
    }
    return months, dict(pinned.snapshots)


def _expected(key) -> tuple:
    m = _manifest(MONTHS[key])
    return (m["rows_accepted"], m["rows_quarantined"], m["sha256"], m["source_file"])


def _roots(place) -> lake_tables.LakeRoots:
    return lake_tables.LakeRoots(str(place["lake"]), str(place["quarantine"]))


def test_every_month_is_re_ingested_with_the_manifests_counts_and_a_second_run_is_a_no_op(spark, place, capsys):
    old, archive = _files(place["old"]), _files(place["archive"])

    assert migrate_hive_lake.main(_args(place)) == 0
    out = capsys.readouterr().out
    months, snapshots = _iceberg(_roots(place))
    assert months == {key: _expected(key) for key in MONTHS}
    archived = _archived(place["archive"], MONTHS[("fhv", 2017, 1)])
    assert f"fhv 2017-01: re-ingested from {archived}: 31 read = 30 accepted + 1 quarantined" in out
    assert f"{SUPERSEDED} (ingested " in out and "was replaced in the Hive lake by yellow_tripdata_2016-07.csv" in out
    assert "summary: 5 month(s) in the Hive lake (6 manifest(s), 1 replaced by a later file of the same month)" in out
    assert "  re-ingested                   5" in out and "  missing from the archive      0" in out
    assert f"remove it: rm -rf {place['old']}" in out
    assert _files(place["old"]) == old and _files(place["archive"]) == archive  # never changed

    assert migrate_hive_lake.main(_args(place)) == 0
    again = capsys.readouterr().out
    assert "  re-ingested                   0" in again and "  already in the Iceberg lake   5" in again
    assert "fhv 2017-01: already in the Iceberg lake (fhv_tripdata_2017-01.csv, same sha256)" in again
    assert _iceberg(_roots(place)) == (months, snapshots)  # no commit at all


def test_missing_and_altered_archive_files_are_named_and_the_other_months_migrate(spark, place, capsys):
    # fhvhv 2019-02 is not in the archive; yellow 2016-12's archived bytes are not its manifest's
    fhvhv = _archived(place["archive"], MONTHS[("fhvhv", 2019, 2)])
    fhvhv.unlink()
    altered = _archived(place["archive"], MONTHS[("yellow", 2016, 12)])
    altered.write_bytes(altered.read_bytes() + b"\n")
    # green 2017-01 is already in the Iceberg lake from another delivery (one row fewer): it is kept
    other = place["old"].parent / "landing" / "green_tripdata_2017-01.csv"
    other.parent.mkdir()
    body = (SAMPLES_DIR / other.name).read_bytes()
    other.write_bytes(body[: body.rstrip().rfind(b"\n") + 1])
    [delivered] = job.run_ingestion([str(other)], str(place["lake"]), str(place["quarantine"]))
    assert delivered.status == "ingested" and delivered.manifest["rows_accepted"] == 97

    assert migrate_hive_lake.main(_args(place)) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: fhvhv 2019-02: missing from the archive: {fhvhv} not found",
        f"error: yellow 2016-12: {altered}: sha256 {hashlib.sha256(altered.read_bytes()).hexdigest()} differs from"
        f" {_manifest(altered.name)['sha256']} in {place['old'] / '_manifests' / (altered.name + '.json')};"
        " not ingested",
    ]
    assert f"    fhvhv 2019-02: {fhvhv}" in captured.out  # the summary names the path looked for
    assert (
        "green 2017-01: already in the Iceberg lake from another delivery (green_tripdata_2017-01.csv" in captured.out
    )
    assert "keep the Hive lake" in captured.out and "rm -rf" not in captured.out
    months, _ = _iceberg(_roots(place))
    assert months == {
        ("fhv", 2017, 1): _expected(("fhv", 2017, 1)),
        ("green", 2017, 1): (97, 0, delivered.manifest["sha256"], "green_tripdata_2017-01.csv"),
        ("yellow", 2016, 7): _expected(("yellow", 2016, 7)),
    }

    # the archive put right, the same command migrates what was left
    shutil.copyfile(SAMPLES_DIR / fhvhv.name, fhvhv)
    shutil.copyfile(SAMPLES_DIR / altered.name, altered)
    assert migrate_hive_lake.main(_args(place)) == 0
    out = capsys.readouterr().out
    assert "  re-ingested                   2" in out and "  already in the Iceberg lake   3" in out
    months, _ = _iceberg(_roots(place))
    assert months[("fhvhv", 2019, 2)] == _expected(("fhvhv", 2019, 2))
    assert months[("yellow", 2016, 12)] == _expected(("yellow", 2016, 12))


def test_unreadable_manifests_are_named(tmp_path):
    old = tmp_path / "hive-lake"
    shutil.copytree(HIVE_LAKE, old)
    folder = old / "_manifests"
    (folder / "yellow_tripdata_2020-01.csv.json").write_text("{")
    receipt = {**_manifest("green_tripdata_2017-01.csv"), "lake_snapshot_id": 1}
    (folder / "green_tripdata_2017-01.csv.json").write_text(json.dumps(receipt))
    renamed = {**_manifest("fhv_tripdata_2017-01.csv"), "source_file": "fhv_tripdata_2017-02.csv"}
    (folder / "fhv_tripdata_2017-01.csv.json").write_text(json.dumps(renamed))

    months, manifests, problems = migrate_hive_lake.read_hive_lake(str(old))
    assert manifests == 7
    assert [m.label for m in months] == ["fhvhv 2019-02", "yellow 2016-07", "yellow 2016-12"]
    assert [p.split(": ", 1)[0] for p in problems] == [
        str(folder / "fhv_tripdata_2017-01.csv.json"),
        str(folder / "green_tripdata_2017-01.csv.json"),
        str(folder / "yellow_tripdata_2020-01.csv.json"),
    ]
    assert "does not match its service, year and month" in problems[0]
    assert "an Iceberg lake's receipt" in problems[1] and "not JSON" in problems[2]


@pytest.mark.parametrize("inside", ["", "iceberg"])
def test_an_iceberg_lake_in_the_hive_lakes_folders_is_refused_before_anything(place, inside, capsys):
    before = _files(place["old"])
    args = _args(place)
    args[args.index("--lake") + 1] = str(place["old"] / inside)
    assert migrate_hive_lake.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the Iceberg lake would share ") and "Move the Hive lake aside first" in err
    assert _files(place["old"]) == before and not place["quarantine"].exists()


def test_hive_partitions_in_the_iceberg_tables_folders_are_refused_before_anything(place, capsys):
    # an upgrade in place: the Iceberg table yellow_trips would live in the Hive table's folder
    shutil.copytree(place["old"] / "yellow_trips", place["lake"] / "yellow_trips")
    before = _files(place["lake"])
    assert migrate_hive_lake.main(_args(place)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {place['lake'] / 'yellow_trips'} holds Hive partitions (year=...)")
    assert _files(place["lake"]) == before


def test_hive_manifests_where_the_iceberg_lake_keeps_its_receipts_are_named_not_taken_as_receipts(place, capsys):
    # e.g. on AWS, where both lakes' root is the lake bucket's: the commits would overwrite the old manifests
    shutil.copytree(place["old"] / "_manifests", place["lake"] / "_manifests")
    assert migrate_hive_lake.main(_args(place)) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(MONTHS)
    receipt = place["lake"] / "_manifests" / "fhv_tripdata_2017-01.csv.json"
    assert errors[0] == (
        f"error: fhv 2017-01: {receipt} is a Hive-lake manifest where the Iceberg lake keeps its receipts:"
        " committing fhv_tripdata_2017-01.csv would overwrite it; move the Hive lake's manifests out of the"
        " Iceberg lake's _manifests/ first"
    )
    assert _iceberg(_roots(place))[0] == {}


def test_migrates_from_s3_into_the_glue_catalog(monkeypatch, tmp_path):
    with moto_lake(monkeypatch, ["hive-lake", "archive", "lake", "quarantine"]) as s3:
        for path in sorted((HIVE_LAKE / "_manifests").iterdir()):
            s3.put_object(Bucket="hive-lake", Key=f"_manifests/{path.name}", Body=path.read_bytes())
        for name in MONTHS.values():
            m = _manifest(name)
            key = f"{m['service']}/{m['sha256']}/{name}"
            s3.put_object(Bucket="archive", Key=key, Body=(SAMPLES_DIR / name).read_bytes())
        s3.delete_object(
            Bucket="archive", Key=f"fhv/{_manifest('fhv_tripdata_2017-01.csv')['sha256']}/fhv_tripdata_2017-01.csv"
        )
        roots = lake_tables.LakeRoots("s3://lake/", "s3://quarantine/", CATALOG)
        hive_partition = "yellow_trips/year=2016/month=07/part-00000-5eb0567b1199.parquet"
        s3.put_object(Bucket="lake", Key=hive_partition, Body=(HIVE_LAKE / hive_partition).read_bytes())
        with pytest.raises(migrate_hive_lake.ArgumentsError, match="s3://lake/yellow_trips holds Hive partitions"):
            migrate_hive_lake.migrate(
                "s3://hive-lake/", "s3://archive/", roots.lake_root, roots.quarantine_root, CATALOG
            )
        s3.delete_object(Bucket="lake", Key=hive_partition)
        report = migrate_hive_lake.migrate(
            "s3://hive-lake/", "s3://archive/", roots.lake_root, roots.quarantine_root, CATALOG, in_process=True
        )
        fhv = f"s3://archive/fhv/{_manifest('fhv_tripdata_2017-01.csv')['sha256']}/fhv_tripdata_2017-01.csv"
        assert report.missing == [f"fhv 2017-01: {fhv}"] and len(report.problems) == 1
        assert sorted(report.reingested) == ["fhvhv 2019-02", "green 2017-01", "yellow 2016-07", "yellow 2016-12"]
        months, _ = _iceberg(roots)
        assert months == {key: _expected(key) for key in MONTHS if key != ("fhv", 2017, 1)}
        again = migrate_hive_lake.migrate(
            "s3://hive-lake/", "s3://archive/", roots.lake_root, roots.quarantine_root, CATALOG, in_process=True
        )
        assert again.reingested == [] and len(again.already) == 4
        assert s3.list_objects_v2(Bucket="hive-lake")["KeyCount"] == 6  # the old lake untouched


def test_a_hive_manifest_is_no_receipt_for_the_job(place):
    """A Hive-lake manifest at the receipts' path names the file's sha256 but the Iceberg tables do not
    hold its rows: the job must ingest the file, not skip it as unchanged."""
    from ingestion.file_ingest import already_ingested

    name = MONTHS[("fhv", 2017, 1)]
    shutil.copytree(place["old"] / "_manifests", place["lake"] / "_manifests")
    assert already_ingested(name, _manifest(name)["sha256"], str(place["lake"])) is None
    receipt = {**_manifest(name), "lake_table": "fhv_trips"}
    (place["lake"] / "_manifests" / f"{name}.json").write_text(json.dumps(receipt))
    assert already_ingested(name, _manifest(name)["sha256"], str(place["lake"])) == receipt
