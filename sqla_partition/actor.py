"""Telling the database who acts, per transaction, for the audit columns and trail."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .declaration.audit import Audit


def set_actor(target: Any, actor: object, setting: str = Audit.actor_setting) -> None:
    """Set the acting user for the current transaction of a ``Session`` or ``Connection``.

    ``set_config(..., true)`` lasts until the transaction ends, so a pooled connection
    (PgBouncer in transaction mode included) never carries one request's user into the
    next. Call it after the transaction began, e.g. in a ``Session`` ``after_begin`` event.
    """
    Audit(actor_setting=setting)  # the same check as a declaration
    target.execute(
        sa.select(sa.func.set_config(setting, "" if actor is None else str(actor), True))
    )
