"""Errors a user can act on; the CLI prints them as one line instead of a traceback."""

from __future__ import annotations


class SqlaPartitionError(Exception):
    """Base class: every error of this package that a user can fix."""


class PolicyError(SqlaPartitionError, ValueError):
    """A partitioning policy that cannot work (bad interval, key, names, constraints)."""


class CatalogError(SqlaPartitionError):
    """The database disagrees with what the tool expects (missing table, wrong type)."""
