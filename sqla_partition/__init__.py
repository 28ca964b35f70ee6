"""PostgreSQL partitioning declared on SQLAlchemy models, migrated by Alembic.

``Range`` and ``Hash`` import without SQLAlchemy; the rest loads on first use, so the
``sqla-partition roll`` cron path starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CatalogError, PolicyError, SqlaPartitionError
from .specs import Audit, Hash, Range, Reference

__version__ = "0.1.0"

__all__ = [
    "Audit",
    "CatalogError",
    "Hash",
    "PolicyError",
    "Range",
    "Reference",
    "SqlaPartitionError",
    "audit_table",
    "partition_table",
    "policy_of",
    "reference_table",
    "register",
    "set_actor",
]

if TYPE_CHECKING:
    from .actor import set_actor
    from .alembic_plugin import register
    from .declare import audit_table, partition_table, policy_of, reference_table

_LAZY = {
    "partition_table": "declare",
    "policy_of": "declare",
    "reference_table": "declare",
    "audit_table": "declare",
    "set_actor": "actor",
    "register": "alembic_plugin",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sqla_partition' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
