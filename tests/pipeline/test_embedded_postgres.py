"""The embedded PostgreSQL: started by the project, reused when running, and reached at the database asked for."""

from __future__ import annotations

import psycopg2

from orchestration.local import embedded_postgres


def test_connection_reaches_the_database_it_names():
    # Regression: with the embedded server's empty password, an unquoted conninfo connected every
    # caller to the default database, so test suites wrote into each other's tables.
    info = embedded_postgres.start(database="tlc_pytest_dsn")
    assert info.password == ""
    conn = psycopg2.connect(info.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute("select current_database()")
            assert cur.fetchone()[0] == "tlc_pytest_dsn"
    finally:
        conn.close()


def test_start_is_idempotent_and_reports_running():
    first = embedded_postgres.start(database="tlc_pytest_dsn")
    second = embedded_postgres.start(database="tlc_pytest_dsn")
    assert first == second
    assert embedded_postgres.is_running()


def test_user_postgres_wins_when_pghost_is_set(monkeypatch):
    monkeypatch.setenv("PGHOST", "db.example.internal")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGUSER", "analyst")
    monkeypatch.delenv("PGDATABASE", raising=False)
    conn = embedded_postgres.connection_for_run("tlc_custom")
    assert (conn.host, conn.port, conn.user, conn.database) == ("db.example.internal", 6543, "analyst", "tlc_custom")


def test_start_waits_for_a_server_still_recovering_after_a_crash(monkeypatch, capsys):
    # After a reboot or a kill -9 the server replays its WAL before it accepts connections; pgserver's
    # pg_ctl stops waiting after 10 s, and `make run` used to fail there with the whole server log.
    import os
    import shutil
    import signal
    import subprocess
    import time

    from pgserver import postgres_server

    pgdata = embedded_postgres.REPO_ROOT / ".local" / "test-pg-recovery"
    shutil.rmtree(pgdata, ignore_errors=True)
    try:
        info = embedded_postgres.start(pgdata=pgdata, database="tlc_recovery")
        conn = psycopg2.connect(info.dsn())
        with conn.cursor() as cur:
            cur.execute("create table kept as select g as n from generate_series(1, 50000) g")
        conn.commit()
        conn.close()
        postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        os.kill(postmaster, signal.SIGKILL)  # an unclean shutdown: the next start runs crash recovery
        deadline = time.monotonic() + 30
        while embedded_postgres.is_running(pgdata) and time.monotonic() < deadline:
            time.sleep(0.1)

        # pg_ctl giving up while the server is still starting, whatever this machine's speed: launch
        # without waiting (-W), then time out as pgserver's 10 s limit would on a long recovery.
        real_pg_ctl = postgres_server.pg_ctl

        def impatient_pg_ctl(args, **kwargs):
            real_pg_ctl(["-W" if a == "-w" else a for a in args], **kwargs)
            raise subprocess.TimeoutExpired(cmd="pg_ctl", timeout=kwargs.get("timeout", 10))

        monkeypatch.setattr(postgres_server, "pg_ctl", impatient_pg_ctl)
        monkeypatch.setattr(postgres_server.PostgresServer, "_instances", {})  # as in a new process
        again = embedded_postgres.start(pgdata=pgdata, database="tlc_recovery")

        assert "still starting" in capsys.readouterr().err
        conn = psycopg2.connect(again.dsn())
        with conn.cursor() as cur:
            cur.execute("select count(*) from kept")
            assert cur.fetchone()[0] == 50000
        conn.close()
    finally:
        monkeypatch.undo()
        if embedded_postgres.is_running(pgdata):
            embedded_postgres.stop(pgdata)
        shutil.rmtree(pgdata, ignore_errors=True)
