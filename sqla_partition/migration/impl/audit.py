"""Turning auditing on and off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic.operations import Operations

from ... import sql
from ...declaration import audit_trail as audit_sql
from ..ops import (
    DisableAuditOp,
    EnableAuditOp,
)
from .common import bounded, implements, run_statements

if TYPE_CHECKING:
    pass


@implements(EnableAuditOp)
def enable_audit(operations: Operations, op: EnableAuditOp) -> None:
    audit, t, s = op.audit, op.table_name, op.schema
    stmts = [*sql.create_audit_functions()]
    if op.old is not None and op.old.trail and not audit.trail:
        stmts += sql.drop_trail_triggers(t, s)
        stmts.append(sql.drop_trail_function(t, s))
    if op.old is not None and not op.old.trust_client and audit.trust_client:
        stmts += sql.drop_move_trigger(t, s)
    recorded = audit_sql.recorded_settings(audit, op.columns)
    stmts += sql.create_audit_trigger(t, s, recorded, audit_sql.column_args(audit))
    if audit.trail:
        stmts += sql.create_trail_function(t, s, op.primary_key)
        stmts += sql.create_trail_triggers(t, s, audit_sql.trail_args(audit, op.primary_key))
    with bounded(operations):
        run_statements(operations, stmts)


@implements(DisableAuditOp)
def disable_audit(operations: Operations, op: DisableAuditOp) -> None:
    stmts = sql.drop_audit_triggers(op.table_name, op.schema, trail=op.audit.trail)
    if op.audit.trail:
        stmts.append(sql.drop_trail_function(op.table_name, op.schema))
    stmts.append(sql.drop_audit_functions_if_unused())
    with bounded(operations):
        run_statements(operations, stmts)
