"""Alembic plugin: the ``alembic.plugins`` entry point and an explicit ``register()``.

Alembic imports this module while ``alembic.autogenerate`` is still being imported, so
nothing here imports Alembic at module level; ``setup`` and ``register`` load the
operations and comparators when they are called.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.runtime.plugins import Plugin

PLUGIN_NAME = "sqla_partition"
_ops_loaded = False
_global_registered = False


def load_operations() -> None:
    """Register ``op.create_partitioned_table`` and friends (safe during Alembic's import)."""
    global _ops_loaded
    if _ops_loaded:
        return
    from . import ops, toimpl  # noqa: F401

    _ops_loaded = True


def load_renderers() -> None:
    """Register how autogenerate writes the operations; needs ``alembic.autogenerate``."""
    load_operations()
    from . import render  # noqa: F401


def _comparators() -> list[tuple[object, str, object]]:
    from alembic.util import DispatchPriority

    from . import compare

    return [
        (compare.prepare, "autogenerate", DispatchPriority.FIRST),
        (compare.compare_schema, "schema", DispatchPriority.LAST),
    ]


def setup(plugin: Plugin) -> None:
    """Entry point called by Alembic; enable with ``autogenerate_plugins=[...,
    "sqla_partition"]`` in env.py."""
    for fn, target, priority in _comparators():
        plugin.add_autogenerate_comparator(fn, target, priority=priority)  # type: ignore[arg-type]
    # Alembic may be half-initialised here; compare.prepare() and register() retry.
    with contextlib.suppress(ImportError):
        load_operations()


def register() -> None:
    """Enable sqla-partition in an env.py without the plugin entry point.

    Registers the operations and adds the comparators to Alembic's global comparator
    collection, which every autogenerate run uses. Safe to call more than once, and
    alongside the plugin (each comparator runs once per autogenerate).
    """
    global _global_registered
    load_renderers()
    if _global_registered:
        return
    from alembic.autogenerate.compare import comparators

    for fn, target, priority in _comparators():
        comparators.dispatch_for(target, priority=priority)(fn)  # type: ignore[arg-type]
    _global_registered = True
