"""``Audit``: the audit columns and trail a table asks for, as a plain, validated value."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields

from ..errors import Problems
from . import base
from .periods import parse_step

ACTOR_TYPES = ("bigint", "text", "uuid")
_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Audit:
    """Audit columns kept by the database itself, and optionally an audit trail.

    ``created_at``/``updated_at`` always; ``created_by``/``updated_by`` (of ``actor_type``)
    from the transaction's ``actor_setting`` when ``who``; ``deleted_at`` when
    ``soft_delete``. ``trail=True`` records every change, with the actor and the changed
    columns, in a range-partitioned log that ``roll`` keeps for ``trail_retention``.

    The database owns the columns: values an application's INSERT or UPDATE gives are
    replaced (a backdated ``created_at``, a rewritten ``created_by``), except for the table's
    owner (migrations, ``roll``, imports) and rows an UPDATE moves to another partition.
    ``trust_client=True`` keeps the values an insert gives, for tables whose writers own them.
    """

    actor_setting: str = "app.user_id"
    actor_type: str = "bigint"
    who: bool = True
    soft_delete: bool = False
    trail: bool = False
    trail_retention: str = "12 months"
    trust_client: bool = False

    def __post_init__(self) -> None:
        found = Problems("Audit()")
        if not isinstance(self.actor_setting, str) or not _SETTING.match(self.actor_setting):
            found.add(
                f"actor_setting={self.actor_setting!r}: use a custom setting name with a "
                "dot, such as 'app.user_id' (PostgreSQL accepts only those without a server "
                "restart)"
            )
        if self.actor_type not in ACTOR_TYPES:
            found.add(f"actor_type={self.actor_type!r}: use one of {', '.join(ACTOR_TYPES)}")
        for name in ("who", "soft_delete", "trail", "trust_client"):
            if not isinstance(getattr(self, name), bool):
                found.add(f"{name} must be True or False, got {getattr(self, name)!r}")
        found.run(lambda: parse_step(self.trail_retention, what="trail_retention"))
        found.raise_any()

    def __set_name__(self, owner: type, name: str) -> None:
        if name == "__audit__":
            base.on_declared()

    @property
    def columns(self) -> tuple[str, ...]:
        """The audit columns this table has, in the order they are added."""
        names = ["created_at", "updated_at"]
        if self.who:
            names += ["created_by", "updated_by"]
        if self.soft_delete:
            names.append("deleted_at")
        return tuple(names)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Audit:
        data = json.loads(text)
        # settings recorded before trust_client existed described triggers that kept what an
        # insert gave: read so, autogenerate offers the change
        data.setdefault("trust_client", True)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def __repr__(self) -> str:
        parts = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"Audit({', '.join(parts)})"
