"""The tool's catalog reads in the application's session (autogenerate runs there) under a
pinned search_path: a function another role defines in a schema on the application's path
(a closer match for a call's argument types) is never called, and the path is put back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..sql.session import PIN_SEARCH_PATH_QUERY, RESTORE_SEARCH_PATH


@contextlib.contextmanager
def pinned_path(conn: Any) -> Iterator[list[str]]:
    """Pin the path for the reads inside; yields the schemas the session's own path names."""
    path, schemas, _ = conn.exec_driver_sql(PIN_SEARCH_PATH_QUERY).one()
    try:
        yield [str(s) for s in schemas or ()]
    except BaseException:
        # a failed transaction rolls the setting back with it: nothing to put back then
        with contextlib.suppress(Exception):
            conn.execute(sa.text(RESTORE_SEARCH_PATH), {"path": path})
        raise
    conn.execute(sa.text(RESTORE_SEARCH_PATH), {"path": path})


def pinned_rows(conn: Any, query: str) -> list[Any]:
    with pinned_path(conn):
        return list(conn.exec_driver_sql(query))
