"""What every partitioning policy shares, and the hook that binds declared models.

Nothing here imports SQLAlchemy, so the cron path stays light.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any, ClassVar

#: Policy kinds defined in modules of their own (``list``), filled in as they load.
MORE_KINDS: dict[str, type] = {}


def _not_watched() -> None:
    """Until the package sets the hook, declaring a policy binds nothing."""


#: Called when a class body declares ``__partitioning__``, ``__distribution__`` or
#: ``__audit__``: the package (``sqla_partition/__init__``) sets it to start binding mapped
#: classes, so this module, which the cron path imports, never loads SQLAlchemy.
on_declared: Callable[[], None] = _not_watched


class _Policy:
    kind: ClassVar[str]
    #: Shown in migration files even at their default, so a later default cannot change
    #: what an old migration means.
    _always_shown: ClassVar[tuple[str, ...]] = ()

    def __set_name__(self, owner: type, name: str) -> None:
        # Declarative classes are mapped right after their body runs; watch for that.
        if name == "__partitioning__":
            on_declared()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __repr__(self) -> str:
        parts = [repr(self.column)]  # type: ignore[attr-defined]
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "column":
                continue
            value = getattr(self, f.name)
            if value != f.default or f.name in self._always_shown:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
