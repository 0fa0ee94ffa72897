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
