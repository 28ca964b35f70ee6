"""Enum values of a LIST partition key (see ``migration/ops/enums.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from .quoting import qualified, string_literal
from .statement import Statement


def add_enum_value(type_name: str, value: str, schema: str | None) -> Statement:
    return Statement(
        f"ALTER TYPE {qualified(type_name, schema)} ADD VALUE IF NOT EXISTS "
        f"{string_literal(value)}",
        f"ACCESS EXCLUSIVE on the type {type_name} (catalog only, brief)",
        "a new value for a list partition; it is committed before the partition lists it",
    )


def keep_enum_values(type_name: str, values: Sequence[str], schema: str | None) -> Statement:
    listed = ", ".join(repr(v) for v in values)
    return Statement(
        "SELECT NULL",
        "no lock",
        f"{qualified(type_name, schema)} keeps {listed}: it partitions a table, and PostgreSQL "
        "cannot change a partition key's type, so its values cannot be removed",
    )
