"""The run summary: per stage rows in/out and time, quarantine by reason, dbt results, where to look next.

Printed at the end of `make run` and written as JSON beside the run's artifacts, so scripts and tests
read the same figures a person reads. Every printed line is one line of bounded length: values that come
from the files (an unknown code may be 60 KB or hold a newline) are escaped and cut (`ingestion.text.shown`),
and at most `MAX_LISTED` codes are listed; the JSON keeps them whole.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingestion.text import shown

MAX_LISTED = 20  # unknown codes listed in the printed summary; the JSON lists every one
MAX_LINE_CHARS = 240  # longer printed lines are cut (paths and dbt figures included)


@dataclass
class StageReport:
    name: str
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    seconds: float = 0.0
    detail: str = ""


@dataclass
class RunReport:
    run_id: str
    work_dir: Path
    stages: list[StageReport] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    dbt: object | None = None
    connection: object | None = None
    artifacts_dir: Path | None = None
    failed_stage: str | None = None
    error: str | None = None
    rejected: list[str] = field(default_factory=list)  # refused files copied to the quarantine
    passed_over: list[str] = field(default_factory=list)  # entries under SOURCE not read, each with why
    reconciled: object | None = None  # orchestration.local.reconcile.Reconciliation, after Transform
    exit_status: int | None = None  # what the pipeline exits with (`make` itself exits 2 on any failure)
    stage: str | None = None  # the stage under way, saved at its start: a killed run's report names it

    # ---------- figures

    def _ingested(self) -> list[dict]:
        """Manifests of the files this run ingested (skipped and refused files excluded)."""
        return [f["manifest"] for f in self.files if f.get("status") == "ingested" and f.get("manifest")]

    def reconciliation(self) -> dict[str, int]:
        """Rows read, accepted and quarantined over the files this run ingested."""
        fresh = self._ingested()
        return {
            "rows_read": sum(m["rows_read"] for m in fresh),
            "rows_accepted": sum(m["rows_accepted"] for m in fresh),
            "rows_quarantined": sum(m["rows_quarantined"] for m in fresh),
        }

    def quarantine_by_reason(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for m in self._ingested():
            counts.update(m.get("quarantined_by_reason", {}))
        return dict(counts.most_common())

    def warnings_by_code(self) -> dict[str, int]:
        """Accepted trips carrying a code the reference tables lack (kept; unknown member in the marts)."""
        counts: Counter[str] = Counter()
        for m in self._ingested():
            counts.update(m.get("warnings_by_code", {}))
        return dict(counts.most_common())

    # ---------- output

    def as_dict(self) -> dict:
        dbt = asdict(self.dbt) if self.dbt is not None else None
        return {
            "run_id": self.run_id,
            "stages": [asdict(s) for s in self.stages],
            "reconciliation": self.reconciliation(),
            "quarantine_by_reason": self.quarantine_by_reason(),
            "warnings_by_code": self.warnings_by_code(),
            "files": self.files,
            "dbt": dbt,
            "warehouse": self.reconciled.as_dict() if self.reconciled is not None else None,
            "exit_status": self.exit_status,
            "stage": self.stage,
            "failed_stage": self.failed_stage,
            "error": self.error,
            "rejected": self.rejected,
            "passed_over": self.passed_over,
        }

    def write_json(self) -> Path:
        path = self.work_dir / "runs" / f"{self.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, default=str))
        latest = self.work_dir / "runs" / "latest.json"
        latest.write_text(path.read_text())
        return path

    def print(self) -> None:
        def num(value: int | None) -> str:
            return "" if value is None else f"{value:,}"

        lines = ["", f"Run {self.run_id} summary", ""]
        lines.append(f"  {'stage':<20}{'rows in':>12}{'rows out':>12}{'quarantined':>13}{'time':>9}  detail")
        for s in self.stages:
            lines.append(
                f"  {s.name:<20}{num(s.rows_in):>12}{num(s.rows_out):>12}{num(s.quarantined):>13}"
                f"{s.seconds:>8.1f}s  {s.detail}"
            )
        rec = self.reconciliation()
        ok = rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]
        lines += [
            "",
            f"  this run's files: {rec['rows_read']:,} read = {rec['rows_accepted']:,} accepted"
            f" + {rec['rows_quarantined']:,} quarantined  [{'OK' if ok else 'BROKEN'}]",
        ]
        noted = [(f["source_file"], note) for f in self.files for note in f.get("notes") or ()]
        if noted:
            lines.append("  about this run's files:")
            lines += [f"    {name}: {note}" for name, note in noted]
        if self.passed_over:
            lines.append(f"  passed over under SOURCE, not read ({len(self.passed_over)}):")
            lines += [f"    {entry}" for entry in self.passed_over]
        reasons = self.quarantine_by_reason()
        if reasons:
            lines.append("  quarantined by reason:")
            lines += [f"    {code:<28}{count:>10,}" for code, count in reasons.items()]
        warned = self.warnings_by_code()
        if warned:
            lines.append("  kept, with a code the reference tables lack (unknown member in the marts):")
            listed = list(warned.items())[:MAX_LISTED]
            lines += [f"    {shown(code):<28}{count:>10,}" for code, count in listed]
            if len(warned) > len(listed):
                lines.append(
                    f"    ... and {len(warned) - len(listed):,} more code(s): see warnings_by_code in the JSON"
                )
        if self.dbt is not None:
            d = self.dbt
            lines.append(
                f"  dbt: {d.models_ok} models/snapshots built, {d.seeds_ok} seeds, tests {d.tests_passed} passed,"
                f" {d.tests_failed} failed, {d.tests_warned} warned"
            )
        if self.reconciled is not None:
            lines += warehouse_lines(self.reconciled)
        lines += [
            "",
            "  next: make psql  (e.g. select * from analytics.fact_trips limit 5;)",
            "        make docs  (lineage in the browser)",
            f"        {self.work_dir / 'runs' / 'latest.json'}  (this summary as JSON)",
            "",
        ]
        print("\n".join(shown(line, MAX_LINE_CHARS) for line in lines), flush=True)


def warehouse_lines(reconciled) -> list[str]:
    """The warehouse reconciled per service (an orchestration.local.reconcile.Reconciliation)."""
    total, recounted = len(reconciled.months), reconciled.recounted
    lines = ["  warehouse now (every month loaded so far): lake = raw = fact, quarantine lake = raw"]
    if recounted < total:
        lines.append(
            f"    ({recounted} of {total} month(s) counted now, the others unchanged since they reconciled;"
            " make reconcile counts them all)"
        )
    for service, t in reconciled.by_service().items():
        fact = "-" if t["fact"] is None else f"{t['fact']:,}"
        ok = (
            t["lake"] == t["raw"]
            and t["lake_quarantined"] == t["raw_quarantined"]
            and (t["fact"] is None or t["fact"] == t["lake"])
        )
        lines.append(
            f"    {service:<7}{t['months']:>4} month(s) {t['lake']:>12,} = {t['raw']:>12,} = {fact:>12}"
            f"   quarantine {t['lake_quarantined']:,} = {t['raw_quarantined']:,}  [{'OK' if ok else 'MISMATCH'}]"
        )
    lines += [f"    MISMATCH {line}" for line in reconciled.mismatches()]
    return lines
