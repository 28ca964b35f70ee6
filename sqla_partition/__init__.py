"""PostgreSQL partitioning declared on SQLAlchemy models, migrated by Alembic.

``Range``, ``Hash`` and ``List`` import without SQLAlchemy; the rest loads on first use, so the
``sqla-partition roll`` cron path starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .declaration import base
from .declaration.audit import Audit
from .declaration.lists import List
from .declaration.policies import Hash, Range, Reference
from .errors import CatalogError, PolicyError, SqlaPartitionError
from .version import __version__ as __version__

__all__ = [
    "Audit",
    "CatalogError",
    "Hash",
    "List",
    "PolicyError",
    "Range",
    "Reference",
    "SqlaPartitionError",
    "audit_table",
    "bound_waits",
    "one_line_errors",
    "partition_table",
    "policy_of",
    "reference_table",
    "register",
    "set_actor",
    "with_lock_notes",
]

if TYPE_CHECKING:
    from .actor import set_actor
    from .declaration.binding import audit_table, partition_table, policy_of, reference_table
    from .migration.errors import one_line_errors
    from .migration.impl.common import bound_waits
    from .migration.offline import with_lock_notes
    from .migration.plugin import register

_LAZY = {
    "partition_table": "declaration.binding",
    "policy_of": "declaration.binding",
    "reference_table": "declaration.binding",
    "audit_table": "declaration.binding",
    "set_actor": "actor",
    "register": "migration.plugin",
    "one_line_errors": "migration.errors",
    "bound_waits": "migration.impl.common",
    "with_lock_notes": "migration.offline",
}


def _bind_mapped_classes() -> None:
    """Start binding declarative classes' policies to their tables (loads SQLAlchemy)."""
    from .declaration.binding import watch_mappers

    watch_mappers()


# The declaration layer cannot import its SQLAlchemy binding (the binding imports it);
# the package, above both, connects them.
base.on_declared = _bind_mapped_classes


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sqla_partition' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
