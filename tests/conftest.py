"""Fixtures: a real PostgreSQL for every integration test.

``SQLA_PARTITION_TEST_URL`` names a server (CI runs the suite against the machine's
PostgreSQL 15 that way); without it an embedded PostgreSQL 18 is started for the session.
Each test that asks for ``db_url`` gets a database of its own.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

HERE = Path(__file__).parent


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("SQLA_PARTITION_TEST_URL")
    if url:
        u = make_url(url)
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        return u.render_as_string(hide_password=False)
    from sqla_partition.tools.embedded import start_embedded

    return start_embedded(tmp_path_factory.mktemp("embedded") / "pgdata")


@pytest.fixture(scope="session")
def server_version(server_url: str) -> int:
    with psycopg.connect(_libpq(server_url)) as conn:
        return conn.info.server_version // 10000


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
