"""PostgreSQL partitioning declared on SQLAlchemy models, migrated by Alembic.

``Range`` and ``Hash`` import without SQLAlchemy; the rest loads on first use, so the
``sqla-partition roll`` cron path starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CatalogError, PolicyError, SqlaPartitionError
from .specs import Hash, Range, Reference

__version__ = "0.1.0"

__all__ = [
    "CatalogError",
    "Hash",
    "PolicyError",
    "Range",
    "Reference",
    "SqlaPartitionError",
    "partition_table",
    "policy_of",
    "reference_table",
    "register",
]

if TYPE_CHECKING:
    from .alembic_plugin import register
    from .declare import partition_table, policy_of, reference_table

_LAZY = {
    "partition_table": "declare",
    "policy_of": "declare",
    "reference_table": "declare",
    "register": "alembic_plugin",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sqla_partition' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
