"""The project's own PostgreSQL: started from the `pgserver` wheel, no Docker, no root, no system package.

The server keeps its data under `.local/pg` (git-ignored) and listens only on a Unix socket inside
that folder, so two clones on one machine never fight over a port. When the user has set `PGHOST`
(their own Postgres), nothing here starts; the pipeline uses their server instead.

Command line (the Makefile uses it):
    python -m orchestration.local.embedded_postgres start   # start if needed, print shell exports
    python -m orchestration.local.embedded_postgres stop
    python -m orchestration.local.embedded_postgres status
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PGDATA = REPO_ROOT / ".local" / "pg"
DEFAULT_DATABASE = "tlc"
RECOVERY_WAIT_SECONDS = 600  # crash recovery replays at most max_wal_size (1 GB) of WAL


@dataclass(frozen=True)
class Connection:
    """Where the warehouse is: the libpq variables every tool here understands."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def env(self) -> dict[str, str]:
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }

    def dsn(self, database: str | None = None) -> str:
        """A libpq conninfo string. Every value is quoted: an empty password written bare
        (`password= dbname=x`) would swallow the next keyword and connect to the wrong database."""
        values = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "dbname": database or self.database,
        }
        return " ".join(f"{key}='{_conninfo_quote(value)}'" for key, value in values.items())


def _conninfo_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def user_connection() -> Connection | None:
    """The user's own Postgres, if they pointed us at one with PGHOST."""
    host = os.environ.get("PGHOST")
    if not host:
        return None
    return Connection(
        host=host,
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", os.environ.get("USER", "postgres")),
        password=os.environ.get("PGPASSWORD", ""),
        database=os.environ.get("PGDATABASE", DEFAULT_DATABASE),
    )


def _quiet_pgserver() -> None:
    # pgserver logs every command at INFO, and platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root):
    # users only need to hear about failures.
    # Nor the whole server log pgserver prints when a start fails (it grows without bound): start()
    # reports the failure itself, with the log's last lines.
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def start(pgdata: Path = DEFAULT_PGDATA, database: str = DEFAULT_DATABASE) -> Connection:
    """Start the embedded server if it is not running and make sure `database` exists.

    Idempotent: a running server is reused. Returns the connection to `database`.
    """
    _quiet_pgserver()
    import pgserver  # imported here so `status`/`stop` work even while pgserver is broken

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, like a real warehouse would; `make stop` ends it.
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"embedded PostgreSQL ({pgdata}) did not start: {exc}\n{_log_tail(pgdata)}") from exc
    except subprocess.TimeoutExpired:
        # pgserver's pg_ctl gives up after 10 s, but the postmaster it launched carries on: after an
        # unclean shutdown (a reboot, a kill -9) it first replays its WAL, which can take longer.
        _wait_until_ready(pgdata, RECOVERY_WAIT_SECONDS)
        # the failed attempt left a half-built handle in pgserver's per-process cache; ask afresh
        pgserver.postgres_server.PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    conn = Connection(
        host=str(info.socket_dir),
        port=int(info.port or 5432),
        user="postgres",
        password="",
        database=database,
    )
    ensure_database(conn)
    return conn


def _log_tail(pgdata: Path, lines: int = 15) -> str:
    log = pgdata / "log"
    if not log.exists():
        return f"(no server log at {log})"
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - 64 * 1024))
        tail = handle.read().decode("utf-8", "replace").splitlines()[-lines:]
    return f"last lines of {log}:\n" + "\n".join(tail)


def _wait_until_ready(pgdata: Path, timeout: float) -> None:
    """Wait for a started postmaster to accept connections, saying why; a clear error after `timeout`."""
    from pgserver.postgres_server import PostmasterInfo

    print(
        f"embedded PostgreSQL ({pgdata}) is still starting, most likely recovering after an unclean shutdown; "
        f"waiting up to {timeout:.0f} s (server log: {pgdata / 'log'})",
        file=sys.stderr,
    )
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except (AssertionError, ValueError, IndexError):  # postmaster.pid still being written
            info = None
        if info is not None and info.is_running() and info.status == "ready":
            return
        if not is_running(pgdata) and time.monotonic() - started > 10:
            break  # no postmaster (it exited, or never came up): waiting longer will not help
        time.sleep(0.5)
    raise RuntimeError(
        f"embedded PostgreSQL ({pgdata}) did not become ready within {timeout:.0f} s "
        f"(`make stop` then `make run` retries; `make clean` starts from scratch)\n{_log_tail(pgdata)}"
    )


def ensure_database(conn: Connection) -> None:
    """Create `conn.database` if missing (CREATE DATABASE cannot run in a transaction).

    Safe when several processes start at once (two `make run` on a fresh clone): the one that loses the
    race to create the database finds it created and carries on. The name is quoted as an identifier.
    """
    import psycopg2
    from psycopg2 import errors, sql

    admin = psycopg2.connect(conn.dsn("postgres"))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (conn.database,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("create database {}").format(sql.Identifier(conn.database)))
                except (errors.DuplicateDatabase, errors.UniqueViolation):
                    pass  # created by a concurrent process between the check and the create
    finally:
        admin.close()


def _pg_ctl(args: list[str], pgdata: Path) -> None:
    _quiet_pgserver()
    from pgserver import _commands  # the pg_ctl shipped in the wheel

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
    _commands.pg_ctl(args, pgdata=pgdata, user=user)


def is_running(pgdata: Path = DEFAULT_PGDATA) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def stop(pgdata: Path = DEFAULT_PGDATA) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    if not is_running(pgdata):
        return False
    _pg_ctl(["-w", "-m", "fast", "stop"], pgdata)
    return True


def connection_for_run(database: str | None = None) -> Connection:
    """The user's Postgres when PGHOST is set, otherwise the embedded one (started if needed)."""
    user = user_connection()
    if user is not None:
        if database:
            user = Connection(user.host, user.port, user.user, user.password, database)
        return user
    return start(database=database or os.environ.get("PGDATABASE") or DEFAULT_DATABASE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--database", default=None, help=f"database to create/use (default {DEFAULT_DATABASE})")
    args = parser.parse_args(argv)

    if args.action == "start":
        try:
            conn = connection_for_run(args.database)
        except Exception as exc:  # noqa: BLE001 - one clear line for the user, details in the server log
            print(
                f"error: could not start the embedded PostgreSQL in {DEFAULT_PGDATA}: {exc} "
                f"(see {DEFAULT_PGDATA / 'log'})",
                file=sys.stderr,
            )
            return 1
        for key, value in conn.env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    if args.action == "stop":
        print("embedded PostgreSQL stopped" if stop() else "embedded PostgreSQL was not running")
        return 0
    print(f"embedded PostgreSQL in {DEFAULT_PGDATA}: {'running' if is_running() else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
