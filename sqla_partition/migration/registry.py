"""Loading the operations and their renderers into Alembic, once, when first needed.

Kept apart from :mod:`.plugin` so the comparators can ask for the renderers without
importing the plugin that imports them.
"""

from __future__ import annotations

import contextlib

_ops_loaded = False


def load_operations() -> None:
    """Register ``op.create_partitioned_table`` and friends (safe during Alembic's import)."""
    global _ops_loaded
    if _ops_loaded:
        return
    from . import impl, ops  # noqa: F401

    _ops_loaded = True


def load_renderers() -> None:
    """Register how autogenerate writes the operations; needs ``alembic.autogenerate``."""
    load_operations()
    from . import render  # noqa: F401


def _unchanged(_context: object, _revision: object, op: object) -> object:
    return op


def shield_from_rewriters() -> None:
    """A rewriter that matches every ``CreateTableOp`` and ``DropTableOp``, subclasses
    included (geoalchemy2's ``alembic_helpers.writer``), would turn a partitioned table into
    a plain one and lose its policy: such rewriters leave ours as they are. Only rewriters
    already imported are touched."""
    import sys

    from .ops import CreatePartitionedTableOp, DropPartitionedTableOp

    helpers = sys.modules.get("geoalchemy2.alembic_helpers")
    writer = getattr(helpers, "writer", None)
    if writer is None or not hasattr(writer, "rewrites"):
        return
    for op_class in (CreatePartitionedTableOp, DropPartitionedTableOp):
        with contextlib.suppress(ValueError):  # shielded already
            writer.rewrites(op_class)(_unchanged)
