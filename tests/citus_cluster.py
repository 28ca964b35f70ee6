"""A database on the real Citus cluster (coordinator + worker) of ``citus.sh``, per test.

The cluster is started once per machine by ``../shared/citus/citus.sh start`` (``.ci/run``
does it); where it is not running, the tests that need it skip and say so.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

COORDINATOR = os.environ.get("SQLA_PARTITION_CITUS_URL", "postgresql://citus@127.0.0.1:5441")
WORKER_PORT = 5442
SCRIPT = Path(
    os.environ.get(
        "SQLA_PARTITION_CITUS_SH",
        Path(__file__).resolve().parents[2] / "shared" / "citus" / "citus.sh",
    )
)


def _reachable() -> str | None:
    """Why the cluster cannot be used, or None."""
    if not SCRIPT.exists():
        return f"no citus.sh at {SCRIPT} (SQLA_PARTITION_CITUS_SH names another)"
    try:
        with psycopg.connect(f"{COORDINATOR}/postgres", connect_timeout=3, autocommit=True) as c:
            c.execute("SELECT 1")
            _trust_citus_output_plugin(c)
    except psycopg.Error as exc:
        return f"no Citus coordinator at {COORDINATOR} ({exc}); `citus.sh start` starts one"
    return None


def _trust_citus_output_plugin(conn: psycopg.Connection) -> None:
    """Citus's online shard split decodes changes with its own output plugin; PostgreSQL
    releases with ``output_plugin_libraries`` load only the plugins it names. An operator
    adds citus on every node once (docs/hash-and-citus.md says so); the test cluster gets
    it here."""
    row = conn.execute(
        "SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'"
    ).fetchone()
    if row is None or "citus" in row[0]:
        return
    plugins = [p.strip() for p in row[0].split(",") if p.strip()] + ["citus"]
    for port in (5441, WORKER_PORT):
        url = COORDINATOR.rsplit(":", 1)[0] + f":{port}/postgres"
        with psycopg.connect(url, autocommit=True) as node:
            node.execute(f"ALTER SYSTEM SET output_plugin_libraries = {', '.join(plugins)}")
            node.execute("SELECT pg_reload_conf()")


_WHY_NOT = _reachable()
needs_citus = pytest.mark.skipif(_WHY_NOT is not None, reason=f"Citus cluster: {_WHY_NOT}")


def citus_database() -> Iterator[str]:
    """A database on both nodes with the extension and the worker registered."""
    name = f"sqlp_citus_{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        ["bash", str(SCRIPT), "createdb", name], check=True, capture_output=True, text=True
    )
    # the superuser is named citus, so "$user" makes Citus's own schema the current one,
    # where other plugins (alembic-postgresql-enum) would see Citus's types as theirs
    url = out.stdout.strip().splitlines()[-1] + "?options=-csearch_path%3Dpublic"
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        subprocess.run(["bash", str(SCRIPT), "dropdb", name], check=False, capture_output=True)


class Writer(threading.Thread):
    """Runs ``statement`` with ``params(n)`` in short transactions until stopped, keeping
    the first line of every error."""

    def __init__(self, url: str, statement: str, params: Callable[[int], tuple]) -> None:
        super().__init__(daemon=True)
        self.url, self.statement, self.params = url, statement, params
        self.stop, self.ok, self.failed = threading.Event(), 0, []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    conn.execute(self.statement, self.params(n))
                    self.ok += 1
                except psycopg.Error as exc:
                    self.failed.append(str(exc).splitlines()[0])
                time.sleep(0.005)
