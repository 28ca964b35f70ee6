"""Autogenerate for list tables: a changed declaration becomes one online operation."""

from __future__ import annotations

from typing import Any

from alembic.util import CommandError

from ...declaration.lists import List
from ...declaration.policies import TablePolicy
from ...errors import PolicyError
from ...planning.lists import list_change
from ..ops import AlterListPartitionsOp


def list_op(bound: TablePolicy, recorded: Any) -> AlterListPartitionsOp | None:
    """The operation from the recorded declaration to the model's; what cannot be done
    online stops autogenerate with the reason. ``None``: no change, or nothing recorded to
    compare with (the policy is then recorded as it is)."""
    new = bound.policy
    if not isinstance(new, List) or not isinstance(recorded, List) or recorded == new:
        return None
    try:
        if not list_change(bound.table, recorded, new):
            return None
    except PolicyError as exc:
        raise CommandError(str(exc)) from None
    return AlterListPartitionsOp(bound.table, new, old=recorded, schema=bound.schema)
