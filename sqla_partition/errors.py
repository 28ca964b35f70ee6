"""Errors a user can act on; the CLI prints them as one line instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SqlaPartitionError(Exception):
    """Base class: every error of this package that a user can fix."""


class PolicyError(SqlaPartitionError, ValueError):
    """A partitioning policy that cannot work (bad interval, key, names, constraints).

    ``problems`` holds each problem on its own, so a declaration with several mistakes is
    refused once, naming all of them."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class CatalogError(SqlaPartitionError):
    """The database disagrees with what the tool expects (missing table, wrong type)."""


class Problems:
    """Every problem of one declaration, gathered so it is fixed in one pass rather than
    one run per mistake. ``what`` names the declaration in the error (a table, ``Range``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.found: list[str] = []

    def add(self, problem: str) -> None:
        if problem not in self.found:
            self.found.append(problem)

    def run(self, check: Callable[..., T], *args: Any) -> T | None:
        """``check(*args)``'s value, or ``None`` with its problems kept."""
        try:
            return check(*args)
        except PolicyError as exc:
            self.found.extend(p for p in exc.problems if p not in self.found)
            return None

    def ok(self, check: Callable[..., object], *args: Any) -> bool:
        """Whether ``check(*args)`` found nothing (checks that depend on it can then run)."""
        try:
            check(*args)
        except PolicyError as exc:
            self.found.extend(p for p in exc.problems if p not in self.found)
            return False
        return True

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise PolicyError(self.found[0])
        if self.found:
            own = f"{self.what}: "
            lines = "\n".join(f"  - {p.removeprefix(own)}" for p in self.found)
            raise PolicyError(f"{self.what}: {len(self.found)} problems\n{lines}", self.found)
