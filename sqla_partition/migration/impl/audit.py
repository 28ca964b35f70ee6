"""Turning auditing on and off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic.operations import Operations

from ... import sql
from ...declaration import audit_trail as audit_sql
from ...sql.audit_actor import drop_actor_defaults, drop_actor_trigger
from ..ops import (
    DisableAuditOp,
    EnableAuditOp,
)
from .common import bounded, implements, run_statements

if TYPE_CHECKING:
    from ...declaration.audit import Audit


@implements(EnableAuditOp)
def enable_audit(operations: Operations, op: EnableAuditOp) -> None:
    audit, t, s = op.audit, op.table_name, op.schema
    stmts = [*sql.create_audit_functions()]
    if op.old is not None and op.old.trail and not audit.trail:
        stmts += sql.drop_trail_triggers(t, s)
        stmts.append(sql.drop_trail_function(t, s))
    if op.old is not None and not op.old.trust_client and audit.trust_client:
        stmts += sql.drop_move_trigger(t, s)
    if op.old is not None and op.old.who and not audit.who:
        stmts += [drop_actor_trigger(t, s), drop_actor_defaults(t, s, op.old.actor_setting)]
    elif op.old is not None and op.old.who and _actor(op.old) != _actor(audit):
        stmts.append(drop_actor_defaults(t, s, op.old.actor_setting))  # the new ones replace
    recorded = audit_sql.recorded_settings(audit, op.columns)
    stmts += sql.create_audit_trigger(t, s, recorded, audit_sql.column_args(audit))
    if audit.trail:
        stmts += sql.create_trail_function(t, s, op.primary_key)
        stmts += sql.create_trail_triggers(t, s, audit_sql.trail_args(audit, op.primary_key))
    with bounded(operations):
        run_statements(operations, stmts)


def _actor(audit: Audit) -> tuple[str, str]:
    return audit.actor_setting, audit.actor_type


@implements(DisableAuditOp)
def disable_audit(operations: Operations, op: DisableAuditOp) -> None:
    stmts = sql.drop_audit_triggers(op.table_name, op.schema, trail=op.audit.trail)
    if op.audit.trail:
        stmts.append(sql.drop_trail_function(op.table_name, op.schema))
    if op.audit.who:
        stmts.append(drop_actor_defaults(op.table_name, op.schema, op.audit.actor_setting))
    stmts.append(sql.drop_audit_functions_if_unused())
    with bounded(operations):
        run_statements(operations, stmts)
