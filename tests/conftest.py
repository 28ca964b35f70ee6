"""Fixtures: a real PostgreSQL for every integration test.

``SQLA_PARTITION_TEST_URL`` names a server (CI runs the suite against the machine's
PostgreSQL 15 that way); without it an embedded PostgreSQL 18 is started for the session.
Each test that asks for ``db_url`` gets a database of its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

HERE = Path(__file__).parent


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Server:
    """The test server. An embedded one that died (under load, say) is started again by
    the next test that needs it: one test fails, not every test after it."""

    def __init__(self, url: str | None, data_dir: Path) -> None:
        self.embedded = url is None
        self.data_dir = data_dir
        self.url = url or self._start()

    def _start(self) -> str:
        from sqla_partition.tools.embedded import start_embedded

        return start_embedded(self.data_dir)

    def alive(self, wait: float = 0.0) -> bool:
        deadline = time.monotonic() + wait
        while True:
            try:
                with psycopg.connect(_libpq(self.url), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.5)  # a crashed backend: the postmaster is recovering

    def ensure(self) -> str:
        if not self.embedded or self.alive(wait=30):
            return self.url
        log = self.data_dir / "log"
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        warnings.warn(
            "the embedded test server died and is started again; its log ended:\n"
            + "\n".join(tail),
            stacklevel=1,
        )
        for attempt in range(5):  # the old postmaster's processes may still be exiting
            try:
                self.url = self._start()
                break
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(2)
        return self.url


@pytest.fixture(scope="session")
def server() -> Server:
    url = os.environ.get("SQLA_PARTITION_TEST_URL")
    if url:
        u = make_url(url)
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        url = u.render_as_string(hide_password=False)
    # not under pytest's numbered temporary directories: another pytest session started
    # meanwhile prunes old ones, and would pull the data directory from under the server
    parent = Path(tempfile.mkdtemp(prefix="sqla-partition-tests-"))
    # registered before the server's own exit handler, so it runs after it (last in, first out)
    atexit.register(shutil.rmtree, parent, ignore_errors=True)
    return Server(url, parent / "pgdata")


@pytest.fixture
def server_url(server: Server) -> str:
    return server.ensure()


@pytest.fixture
def db_url(server_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = f"sqlp_test_{uuid.uuid4().hex[:10]}"
    admin = _libpq(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def pg(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit psycopg connection to the test database."""
    with psycopg.connect(_libpq(db_url), autocommit=True) as conn:
        yield conn


@pytest.fixture
def sample_models_path() -> Iterator[Path]:
    path = HERE / "sample_project"
    sys.path.insert(0, str(path))
    yield path
    sys.path.remove(str(path))
