"""A guard for an application's own test suite: each statement that names a partitioned
table is planned before it runs, and one that reads every partition fails the test (or
warns), naming the statement, the test and the fix.

In ``conftest.py``::

    pytest_plugins = ["sqla_partition.testing"]        # the marker and the test names

    @pytest.fixture(scope="session", autouse=True)
    def _pruning(engine):
        with guard_pruning(engine):                      # mode="warn" to only warn
            yield

A test whose statements must read everything says so, with the reason::

    @pytest.mark.scans_all_partitions(reason="the monthly report reads the whole year")

Plans are kept per statement text, so each distinct statement is planned once.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import warnings
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from . import sql
from .tools.pruning import PartitionMap, Unpruned, unpruned

_ALLOWED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sqla_partition_full_scans_allowed", default=None
)
_TEST: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sqla_partition_current_test", default=None
)
_KINDS = ("SELECT", "UPDATE", "DELETE", "WITH")


class UnprunedStatement(AssertionError):
    """A statement read every partition of a partitioned table (shown as a test failure)."""


class UnprunedWarning(UserWarning):
    """The same, where the guard only warns."""


class _Cursor:
    """A DBAPI cursor as ``PartitionMap.read`` queries a connection."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, query: str) -> Any:
        self.cursor.execute(query)
        return self.cursor


def _statement_count(text: str) -> int:
    """How many statements ``text`` holds, split by PostgreSQL's own scanner (driver
    placeholders such as ``%(name)s`` are no grammar; 0 if it cannot be read: the guard then
    leaves it to the server)."""
    import pglast

    try:
        return len(pglast.split(text, with_parser=False))
    except Exception:
        return 0


class PruningGuard:
    """Plans statements on the connection that runs them, inside a savepoint, before they
    run; remembers the verdict per statement text."""

    def __init__(self, engine: sa.engine.Engine, mode: str = "fail") -> None:
        if mode not in ("fail", "warn"):
            raise ValueError(f"mode must be 'fail' or 'warn', got {mode!r}")
        self.engine = engine
        self.mode = mode
        self.verdicts: dict[str, list[Unpruned]] = {}
        self.planned = 0
        self.found: list[tuple[str | None, str, Unpruned]] = []

    def install(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._before)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)

    def _before(
        self,
        conn: sa.engine.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if executemany or _ALLOWED.get() is not None:
            return
        head = statement.lstrip()[:6].upper()
        # an INSERT reads partitions through its SELECT only
        reads = head == "INSERT" and "SELECT" in statement.upper()
        if not head.startswith(_KINDS) and not reads:
            return
        verdict = self.verdicts.get(statement)
        if verdict is None:
            verdict = self.verdicts[statement] = self._plan(conn, cursor, statement, parameters)
        if verdict:
            self._report(statement, verdict)

    def _plan(self, conn: Any, cursor: Any, statement: str, parameters: Any) -> list[Unpruned]:
        dbapi = cursor.connection
        own = dbapi.cursor()  # a client-side cursor of its own: the application's may be named
        nested = not getattr(dbapi, "autocommit", False)  # a transaction is open, or opens now
        try:
            if nested:
                own.execute(sql.GUARD_SAVEPOINT)
            partitions = PartitionMap.read(_Cursor(own), plan_order=False)
            if not any(name in statement for name in partitions.names()):
                return []
            if _statement_count(statement) != 1:  # EXPLAIN would plan the first, run the rest
                return []
            own.execute(sql.explain(statement), parameters)
            plan = own.fetchone()[0]
            self.planned += 1
            # a scan pruned at run time is no full scan
            return [
                dataclasses.replace(u, instead="")  # offered only once planned: advise does
                for u in unpruned(plan, statement, partitions)
                if u.verdict == "full"
            ]
        except Exception:  # not plannable here (it fails on its own just after): no verdict
            if nested:
                with contextlib.suppress(Exception):
                    own.execute(sql.GUARD_ROLLBACK)
            return []
        finally:
            if nested:
                with contextlib.suppress(Exception):
                    own.execute(sql.GUARD_RELEASE)
            with contextlib.suppress(Exception):
                own.close()

    def _report(self, statement: str, verdict: list[Unpruned]) -> None:
        test = _TEST.get()
        for found in verdict:
            self.found.append((test, statement, found))
        shown = " ".join(statement.split())[:300]
        lines = "; ".join(u.line() for u in verdict)
        where = f"{test}: " if test else ""
        message = (
            f"{where}{shown} -- {lines}. If it must read everything, mark the test "
            "@pytest.mark.scans_all_partitions(reason=...) or wrap the code in "
            "sqla_partition.testing.allow_full_scans(reason)"
        )
        if self.mode == "fail":
            raise UnprunedStatement(message)
        warnings.warn(message, UnprunedWarning, stacklevel=2)


@contextlib.contextmanager
def guard_pruning(engine: sa.engine.Engine, mode: str = "fail") -> Iterator[PruningGuard]:
    """Check every statement ``engine`` runs while the block lasts."""
    guard = PruningGuard(engine, mode)
    guard.install()
    try:
        yield guard
    finally:
        guard.remove()


@contextlib.contextmanager
def allow_full_scans(reason: str) -> Iterator[None]:
    """Statements in this block may read every partition (say why)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("allow_full_scans needs the reason, e.g. 'the yearly report'")
    token = _ALLOWED.set(reason)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


try:  # the pytest plugin: the marker, and the test's name in each report
    import pytest
except ImportError:  # pragma: no cover - pytest is the application's test dependency
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    def pytest_configure(config: Any) -> None:
        config.addinivalue_line(
            "markers",
            "scans_all_partitions(reason): the test's statements may read every partition "
            "of a partitioned table (sqla-partition's pruning guard)",
        )

    @pytest.fixture(autouse=True)
    def _sqla_partition_pruning_scope(request: Any) -> Iterator[None]:
        marker = request.node.get_closest_marker("scans_all_partitions")
        reason = marker.kwargs.get("reason") if marker else None
        if marker and not (isinstance(reason, str) and reason.strip()):
            raise pytest.UsageError(
                f"{request.node.nodeid}: scans_all_partitions needs reason='...'"
            )
        test = _TEST.set(request.node.nodeid)
        allowed = _ALLOWED.set(reason) if reason else None
        try:
            yield
        finally:
            if allowed is not None:
                _ALLOWED.reset(allowed)
            _TEST.reset(test)
