"""Loading the operations and their renderers into Alembic, once, when first needed.

Kept apart from :mod:`.plugin` so the comparators can ask for the renderers without
importing the plugin that imports them.
"""

from __future__ import annotations

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
