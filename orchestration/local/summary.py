"""The run summary: per stage rows in/out and time, quarantine by reason, dbt results, where to look next.

Printed at the end of `make run` and written as JSON beside the run's artifacts, so scripts and tests
read the same figures a person reads.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    warehouse: dict[str, int] = field(default_factory=dict)

    # ---------- figures

    def reconciliation(self) -> dict[str, int]:
        """Rows read, accepted and quarantined over the files this run ingested (skipped files excluded)."""
        fresh = [f for f in self.files if not f.get("skipped") and not f.get("refused")]
        return {
            "rows_read": sum(f["rows_read"] for f in fresh),
            "rows_accepted": sum(f["rows_accepted"] for f in fresh),
            "rows_quarantined": sum(f["rows_quarantined"] for f in fresh),
        }

    def quarantine_by_reason(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for f in self.files:
            if not f.get("skipped"):
                counts.update(f.get("quarantined_by_reason", {}))
        return dict(counts.most_common())

    def collect_warehouse_counts(self) -> None:
        """Row counts of the warehouse as it stands after the run (all months, not just this run's)."""
        if self.connection is None:
            return
        import psycopg2

        queries = {
            "raw.yellow_trips": "select count(*) from raw.yellow_trips",
            "raw.green_trips": "select count(*) from raw.green_trips",
            "raw.quarantined_trips": "select count(*) from raw.quarantined_trips",
            "analytics.fact_trips": "select count(*) from analytics.fact_trips",
        }
        conn = psycopg2.connect(self.connection.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for name, query in queries.items():
                    try:
                        cur.execute(query)
                        self.warehouse[name] = int(cur.fetchone()[0])
                    except psycopg2.Error:
                        continue
        finally:
            conn.close()

    # ---------- output

    def as_dict(self) -> dict:
        dbt = asdict(self.dbt) if self.dbt is not None else None
        return {
            "run_id": self.run_id,
            "stages": [asdict(s) for s in self.stages],
            "reconciliation": self.reconciliation(),
            "quarantine_by_reason": self.quarantine_by_reason(),
            "files": self.files,
            "dbt": dbt,
            "warehouse": self.warehouse,
            "failed_stage": self.failed_stage,
            "error": self.error,
            "rejected": self.rejected,
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
            f"  reconciliation: {rec['rows_read']:,} read = {rec['rows_accepted']:,} accepted"
            f" + {rec['rows_quarantined']:,} quarantined  [{'OK' if ok else 'BROKEN'}]",
        ]
        reasons = self.quarantine_by_reason()
        if reasons:
            lines.append("  quarantined by reason:")
            lines += [f"    {code:<28}{count:>10,}" for code, count in reasons.items()]
        if self.dbt is not None:
            d = self.dbt
            lines.append(
                f"  dbt: {d.models_ok} models/snapshots built, {d.seeds_ok} seeds, tests {d.tests_passed} passed,"
                f" {d.tests_failed} failed, {d.tests_warned} warned"
            )
        if self.warehouse:
            lines.append("  warehouse now: " + ", ".join(f"{k} {v:,}" for k, v in self.warehouse.items()))
        lines += [
            "",
            "  next: make psql  (e.g. select * from analytics.fact_trips limit 5;)",
            "        make docs  (lineage in the browser)",
            f"        {self.work_dir / 'runs' / 'latest.json'}  (this summary as JSON)",
            "",
        ]
        print("\n".join(lines), flush=True)
