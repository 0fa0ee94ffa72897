"""Issue 20 (8a): the run summary prints every unknown code bounded and escaped, one line each, however
long the code is or whatever it holds; its JSON keeps the codes whole."""

from __future__ import annotations

import json

from ingestion.text import MAX_SHOWN_CHARS, shown
from orchestration.local.summary import MAX_LINE_CHARS, MAX_LISTED, RunReport, StageReport


def _report(tmp_path, warnings: dict[str, int]) -> RunReport:
    manifest = {
        "rows_read": 10,
        "rows_accepted": 10,
        "rows_quarantined": 0,
        "quarantined_by_reason": {},
        "warnings_by_code": warnings,
    }
    report = RunReport("run-1", tmp_path, files=[{"status": "ingested", "manifest": manifest}])
    report.stages.append(StageReport("Ingest", rows_in=10, rows_out=10, detail="1 file(s) ingested"))
    return report


def test_unknown_codes_print_bounded_and_escaped_and_stay_whole_in_the_json(tmp_path, capsys):
    huge = "store_and_fwd_flag=" + "Y\n" * 60_000
    odd = "shared_request_flag=YES\x00\r\nexit 0"
    wide = "payment_type=" + "9" * 60_000
    report = _report(tmp_path, {huge: 2, odd: 1, wide: 1, "vendor_id=4": 3})
    report.print()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) < 40 and all(len(line) <= MAX_LINE_CHARS + 40 for line in lines)
    assert any(line.startswith(f"    {shown(wide)}") for line in lines)
    warned = [line for line in lines if "store_and_fwd_flag=" in line or "shared_request_flag=" in line]
    assert len(warned) == 2, warned  # one line each: the newlines inside the codes are escaped
    assert any(shown(odd) in line and "\\x00\\r\\nexit 0" in line for line in warned)
    assert any(shown(huge).endswith("(120,019 bytes)") and shown(huge) in line for line in warned)
    assert len(shown(huge)) < MAX_SHOWN_CHARS + 30
    assert json.loads(report.write_json().read_text())["warnings_by_code"][huge] == 2


def test_many_unknown_codes_are_listed_up_to_a_bound(tmp_path, capsys):
    report = _report(tmp_path, {f"vendor_id={n}": 1 for n in range(100, 100 + MAX_LISTED + 5)})
    report.print()
    out = capsys.readouterr().out
    assert out.count("vendor_id=1") == MAX_LISTED
    assert "... and 5 more code(s)" in out


def test_a_failed_runs_last_line_is_bounded_and_escaped():
    # issue 20: the cause a failed run prints may quote a file's values (a column name, a code): one line,
    # bounded, no terminal escape reaches the console
    from ingestion.text import MAX_MESSAGE_CHARS
    from orchestration.local import failures

    line, code, _ = failures.failure_line("Ingest", RuntimeError("bad value\n\x1b[2J" + "z" * 50_000))
    assert code == failures.FAILED
    assert line.startswith("error: pipeline failed in stage Ingest (exit status 1): bad value \\x1b[2J")
    assert len(line) <= len("error: pipeline failed in stage Ingest (exit status 1): ") + MAX_MESSAGE_CHARS + 40
    assert line.isprintable()


def test_a_killed_spark_jvm_is_named_whether_py4j_or_its_socket_reports_it(monkeypatch):
    """A SIGKILLed JVM (the OOM killer) reaches the runner as a py4j error or, when the kill lands
    between two calls, as py4j's bare "Connection refused", which can come before the kernel reports
    the JVM dead: both name the JVM and the signal. The same socket error with a live JVM is only itself."""
    import signal
    import subprocess
    import types

    from pyspark import SparkContext

    from orchestration.local import failures

    def still_running(timeout: float) -> int:
        raise subprocess.TimeoutExpired("java", timeout)

    dying = types.SimpleNamespace(pid=4242, poll=lambda: None, wait=lambda timeout: -signal.SIGKILL)
    monkeypatch.setattr(SparkContext, "_gateway", types.SimpleNamespace(proc=dying), raising=False)
    refused = ConnectionRefusedError(111, "Connection refused")
    assert failures.cause(refused).startswith("Spark's JVM (pid 4242) was killed by SIGKILL")

    dying.wait = still_running
    assert failures.cause(refused) == "[Errno 111] Connection refused"
