"""Alembic plugin: the ``alembic.plugins`` entry point and an explicit ``register()``.

Alembic imports this module while ``alembic.autogenerate`` is still being imported, so
nothing here imports Alembic at module level; ``setup`` and ``register`` load the
operations and comparators when they are called.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .registry import load_operations, load_renderers

if TYPE_CHECKING:
    from alembic.runtime.plugins import Plugin

PLUGIN_NAME = "sqla_partition"
_global_registered = False


def _comparators() -> list[tuple[object, str, object]]:
    from alembic.util import DispatchPriority

    from .compare import enums
    from .compare import schema as compare

    return [
        (compare.prepare, "autogenerate", DispatchPriority.FIRST),
        (compare.compare_schema, "schema", DispatchPriority.LAST),
        # after every schema-level comparator, other plugins' included
        (enums.finish, "autogenerate", DispatchPriority.LAST),
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
