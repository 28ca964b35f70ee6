"""Autogenerate for audited tables: the triggers a model's ``Audit`` asks for, and the trail.

The audit columns themselves are ordinary columns of the model, so Alembic's own
comparators add them; this module adds what Alembic cannot see: the triggers (their
settings are read back from a comment on the audit trigger) and the trail table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.operations import ops as alembic_ops
from alembic.util import CommandError

from ... import sql
from ...catalog.snapshot import Snapshot
from ...declaration import audit_trail as trail
from ...declaration.audit import Audit
from ...declaration.binding import audit_of
from ...declaration.policies import TablePolicy
from ...planning import roll as planner
from ..ops import CreatePartitionedTableOp, DisableAuditOp, EnableAuditOp, SetPartitionPolicyOp
from ..pinned import pinned_rows

if TYPE_CHECKING:
    import datetime as dt

    from alembic.autogenerate.api import AutogenContext


def recorded_audits(
    ctx: AutogenContext,
) -> dict[tuple[str, str], tuple[Audit | None, tuple[str, ...], bool, bool]]:
    """Audited tables in the database: the settings and columns their migration recorded
    (unreadable ones come back as ``None``: the model's are written again), whether the
    trail triggers are there, and whether the triggers are this version's (an earlier
    version's are made again)."""
    assert ctx.connection is not None
    out = {}
    rows = pinned_rows(ctx.connection, sql.AUDIT_QUERY)
    for schema, table, comment, has_trail, current in rows:
        audit, columns = trail.read_settings(comment)
        out[(schema, table)] = (audit, columns, bool(has_trail), bool(current))
    return out


def _trail_ops(snap: Snapshot, audits: list[tuple[str, Audit]], now: dt.datetime) -> list[Any]:
    retentions = {a.trail_retention for _, a in audits if a.trail}
    if not retentions:
        return []
    if len(retentions) > 1:
        tables = ", ".join(f"{name} ({a.trail_retention})" for name, a in audits if a.trail)
        raise CommandError(
            f"the audit trail is one table with one retention, but the models ask for "
            f"several: {tables}; give them the same trail_retention"
        )
    policy = trail.trail_policy(retentions.pop())
    bound = TablePolicy(sql.TRAIL_TABLE, policy, "timestamptz", sql.tool_schema())
    parent = snap.parents.get((sql.tool_schema(), sql.TRAIL_TABLE))
    if parent is None:
        start, until = planner.initial_window(bound, planner.position_from_clock(bound, now))
        create = alembic_ops.CreateTableOp.from_table(trail.trail_table())
        return [
            CreatePartitionedTableOp.from_create_table(
                create, policy, start.date().isoformat(), until.date().isoformat()
            )
        ]
    recorded = parent.policy.policy if parent.policy else None
    if recorded != policy:
        return [
            SetPartitionPolicyOp(sql.TRAIL_TABLE, policy, old=recorded, schema=sql.tool_schema())
        ]
    return []


def audit_ops(
    ctx: AutogenContext, snap: Snapshot, default_schema: str, now: dt.datetime
) -> list[Any]:
    """Operations that bring the audit triggers and the trail in line with the models."""
    recorded = recorded_audits(ctx) if snap.has_audit else {}
    wanted: list[tuple[str, Audit]] = []
    out: list[Any] = []
    for table in ctx.sorted_tables:
        key = (table.schema or default_schema, table.name)
        audit = audit_of(table)
        pk = [c.name for c in table.primary_key.columns]
        columns = [c.name for c in table.columns]
        old, old_columns, has_trail, current = recorded.get(key, (None, (), False, True))
        if audit is not None:
            wanted.append((table.name, audit))
            changed = (
                old != audit
                or not current
                or (audit.trail and (tuple(columns) != old_columns or not has_trail))
            )
            if key not in recorded or changed:
                out.append(
                    EnableAuditOp(
                        table.name,
                        audit,
                        primary_key=pk,
                        columns=columns,
                        old=old,
                        old_columns=old_columns,
                        schema=table.schema,
                    )
                )
        elif key in recorded:
            old = old or Audit(trail=True)  # unknown settings: drop every trigger
            out.append(
                DisableAuditOp(
                    table.name, old, primary_key=pk, columns=old_columns, schema=table.schema
                )
            )
    return _trail_ops(snap, wanted, now) + out
