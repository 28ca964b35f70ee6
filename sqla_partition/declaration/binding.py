"""Binding a policy to a SQLAlchemy table, with the checks PostgreSQL would make later.

Policies live in a registry keyed by ``Table``, not in ``Table.info``: Alembic renders
``info`` with ``repr()`` into ``op.create_table``.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapper

from .. import sql
from ..errors import PolicyError, Problems
from ..sql.audit_actor import actor_default
from .audit import Audit
from .lists import List
from .policies import Hash, Policy, Range, Reference, TablePolicy

if TYPE_CHECKING:
    from sqlalchemy.sql.schema import Table

_registry: weakref.WeakKeyDictionary[Table, TablePolicy] = weakref.WeakKeyDictionary()
_references: weakref.WeakSet[Table] = weakref.WeakSet()
_audits: weakref.WeakKeyDictionary[Table, Audit] = weakref.WeakKeyDictionary()
_watching = False


def key_type_of_column(table: Table, column: sa.Column) -> str:
    """The planner's key type for a model column, or a clear error."""
    t = column.type
    if isinstance(t, sa.DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Integer):
        return "integer"
    return str(t.compile(dialect=_pg_dialect())).lower()


def _pg_dialect() -> sa.engine.Dialect:
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()


def _check_unique_includes_key(table: Table, key: str, what: str = "partition key") -> None:
    groups: list[tuple[str, list[str]]] = []
    for cons in table.constraints:
        if isinstance(cons, sa.PrimaryKeyConstraint) and cons.columns:
            groups.append(("PRIMARY KEY", [c.name for c in cons.columns]))
        elif isinstance(cons, sa.UniqueConstraint):
            groups.append((f"UNIQUE {cons.name or ''}".strip(), [c.name for c in cons.columns]))
    for index in table.indexes:
        if index.unique:
            cols = [c.name for c in index.columns]
            groups.append((f"unique index {index.name or ''}".strip(), cols))
    constrained = {tuple(cols) for kind, cols in groups if kind.startswith("UNIQUE")}
    for column in table.columns:
        # SQLAlchemy also makes a column's unique=True a UNIQUE constraint of the table
        if column.unique and not column.primary_key and (column.name,) not in constrained:
            groups.append((f"UNIQUE ({column.name})", [column.name]))
    found = Problems(table.name)
    # the primary key first, then in a stable order (``table.constraints`` is a set)
    for kind, cols in sorted(groups, key=lambda g: (g[0] != "PRIMARY KEY", g[1], g[0])):
        if key not in cols:
            fix = ", ".join([*cols, key])
            found.add(
                f"{table.name}: {kind} ({', '.join(cols)}) must include the {what}; "
                f"add {key!r} to it, e.g. ({fix}). Uniqueness is enforced only per "
                f"{'shard' if what == 'distribution column' else 'partition'}"
            )
    found.raise_any()


#: Types PostgreSQL has no hash operator class for, so it cannot hash-partition by them.
_UNHASHABLE = ("json", "xml", "point", "box", "polygon", "circle", "line", "lseg", "path")


def _check_hashable(table: Table, column: sa.Column) -> None:
    from sqlalchemy.dialects.postgresql import JSONB

    if isinstance(column.type, JSONB):
        return
    name = str(column.type.compile(dialect=_pg_dialect())).lower()
    if isinstance(column.type, sa.JSON) or name.split("(")[0] in _UNHASHABLE:
        raise PolicyError(
            f"{table.name}: PostgreSQL cannot hash {column.name!r} ({name}); hash-partition "
            "by another column, or use jsonb instead of json"
        )


def _check_listable(table: Table, column: sa.Column, policy: List) -> None:
    """The listed values must be of the column's kind; NULL only in a nullable column."""
    kinds = {type(v) for vs in policy.partitions.values() for v in vs if v is not None}
    t = column.type
    wanted: type = str
    if isinstance(t, sa.Boolean):
        wanted = bool
    elif isinstance(t, sa.Integer):
        wanted = int
    elif isinstance(t, (sa.DateTime, sa.Float, sa.Numeric, sa.JSON, sa.LargeBinary)):
        raise PolicyError(
            f"{table.name}: list-partition by text, integer, boolean, date or enum columns; "
            f"{column.name!r} is {t.compile(dialect=_pg_dialect())}"
        )
    if kinds - {wanted}:
        raise PolicyError(
            f"{table.name}: {column.name!r} holds {wanted.__name__} values, but the partitions "
            f"list {', '.join(sorted(k.__name__ for k in kinds - {wanted}))}"
        )
    if isinstance(t, sa.Enum) and t.enums:
        unknown = [v for vs in policy.partitions.values() for v in vs if v not in (*t.enums, None)]
        if unknown:
            raise PolicyError(
                f"{table.name}: {unknown[0]!r} is not a label of {column.name!r} "
                f"({', '.join(t.enums)})"
            )
    if not column.nullable and any(None in vs for vs in policy.partitions.values()):
        raise PolicyError(f"{table.name}: {column.name!r} is NOT NULL; do not list None")


def _key_column(table: Table, name: str) -> sa.Column:
    if name not in table.c:
        raise PolicyError(
            f"{table.name}: partition key {name!r} is not a column; columns are "
            f"{', '.join(c.name for c in table.columns)}"
        )
    return table.c[name]


def bind(table: Table, policy: Policy) -> TablePolicy:
    """Validate ``policy`` against ``table`` and return the bound policy; every problem
    found is named in one error."""
    if not isinstance(policy, (Range, Hash, List)):
        raise PolicyError(
            f"{table.name}: __partitioning__ must be Range(...), Hash(...) or List(...), "
            f"got {policy!r}"
        )
    found = Problems(table.name)
    column = found.run(_key_column, table, policy.column)
    key_type = None if column is None else key_type_of_column(table, column)
    if column is not None and isinstance(policy, Hash):
        found.run(_check_hashable, table, column)
        key_type = "hash"
    elif column is not None and isinstance(policy, List):
        found.run(_check_listable, table, column, policy)
        key_type = "list"
    sub = policy.subpartition if isinstance(policy, (Range, List)) else None
    if sub is not None:
        sub_column = found.run(_key_column, table, sub.column)
        found.run(_check_unique_includes_key, table, sub.column)
        if sub_column is None:
            key_type = None
        elif isinstance(sub, Range):
            sub_type = key_type_of_column(table, sub_column)
            key_type = None if key_type is None else f"{key_type}:{sub_type}"
        else:
            found.run(_check_hashable, table, sub_column)
    found.run(_check_unique_includes_key, table, policy.column)
    if isinstance(policy, (Range, List)) and policy.distributed_by is not None:
        found.run(_key_column, table, policy.distributed_by)
        found.run(_check_unique_includes_key, table, policy.distributed_by, "distribution column")
    found.run(sql.ident, table.name)
    bound = None
    if key_type is not None:  # every key column found: the key types can be checked
        bound = found.run(TablePolicy, table.name, policy, key_type, table.schema)
    found.raise_any()
    assert bound is not None
    return bound


def partition_table(table: Table, policy: Policy) -> Table:
    """Declare how a Core ``Table`` is partitioned: ``partition_table(t, Range("ts"))``.

    Also sets ``postgresql_partition_by`` so ``metadata.create_all()`` makes a partitioned
    parent.
    """
    found = Problems(table.name)
    bound = found.run(bind, table, policy)
    ours = sql.partition_by(policy.kind, policy.column)
    given = table.dialect_kwargs.get("postgresql_partition_by")
    if given and _squeezed(given) != _squeezed(ours) and _registry.get(table) is None:
        found.add(
            f"{table.name}: __table_args__ gives postgresql_partition_by={given!r}, but "
            f"__partitioning__ says {ours!r}; leave postgresql_partition_by out, "
            "__partitioning__ decides"
        )
    found.raise_any()
    assert bound is not None
    _registry[table] = bound
    table.dialect_kwargs["postgresql_partition_by"] = ours
    return table


def _squeezed(clause: str) -> str:
    return "".join(clause.split()).replace('"', "").lower()


def policy_of(table: Table) -> TablePolicy | None:
    """The policy declared for ``table``, if any."""
    return _registry.get(table)


def _audit_column(name: str, audit: Audit) -> sa.Column:
    # the database sets them: the ORM reads them back after a flush (FetchedValue)
    if name == "created_at":
        return sa.Column(
            name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        )
    if name == "updated_at":
        return sa.Column(
            name,
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
            server_onupdate=sa.FetchedValue(),
        )
    if name == "deleted_at":
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    kind = {"bigint": sa.BigInteger, "text": sa.Text, "uuid": sa.Uuid}[audit.actor_type]
    return sa.Column(
        name,
        kind(),
        nullable=True,
        server_default=_actor_default(audit),
        server_onupdate=sa.FetchedValue() if name == "updated_by" else None,
    )


def _actor_default(audit: Audit) -> sa.DefaultClause:
    # the actor as a default: an insert that leaves the column out skips the row trigger
    return sa.DefaultClause(sa.text(actor_default(audit.actor_setting, audit.actor_type)))


def _compatible(column: sa.Column, audit: Audit) -> bool:
    """Types that hold every value the trigger writes (a smallint cannot hold every id)."""
    t = column.type
    if column.name.endswith("_at"):
        return isinstance(t, sa.DateTime)
    if audit.actor_type == "bigint":
        return isinstance(t, sa.BigInteger)
    if audit.actor_type == "text":
        return isinstance(t, sa.String) and not isinstance(t, sa.Enum) and t.length is None
    return isinstance(t, sa.Uuid)


def audit_table(table: Table, audit: Audit) -> list[sa.Column]:
    """Declare a Core ``Table`` audited: adds the audit columns it lacks (an existing column
    of the same name and a compatible type is kept) and returns the ones added."""
    if not isinstance(audit, Audit):
        raise PolicyError(f"{table.name}: __audit__ must be Audit(...), got {audit!r}")
    if audit.trail and not table.primary_key.columns:
        raise PolicyError(
            f"{table.name}: Audit(trail=True) needs a primary key: each event records the key "
            "of the row it changed"
        )
    added = []
    for name in audit.columns:
        existing = table.c.get(name)
        if existing is None:
            column = _audit_column(name, audit)
            table.append_column(column)
            added.append(column)
        elif name in ("created_by", "updated_by") and existing.server_default is None:
            if not _compatible(existing, audit):
                _refuse(table, name, existing, audit)
            # the default enable_audit gives the column where it has none
            _actor_default(audit)._set_parent_with_dispatch(existing)
        elif not _compatible(existing, audit):
            _refuse(table, name, existing, audit)
    _audits[table] = audit
    return added


def _refuse(table: Table, name: str, existing: sa.Column, audit: Audit) -> None:
    wanted = _audit_column(name, audit).type.compile(dialect=_pg_dialect())
    raise PolicyError(
        f"{table.name}: column {name!r} exists as "
        f"{existing.type.compile(dialect=_pg_dialect())}, but the audit needs "
        f"{wanted}; rename the column or change its type"
    )


def audit_of(table: Table) -> Audit | None:
    """The audit declared for ``table``, if any."""
    return _audits.get(table)


def reference_table(table: Table) -> Table:
    """Declare a Core ``Table`` a Citus reference table (copied to every node)."""
    _references.add(table)
    return table


def is_reference(table: Table) -> bool:
    return table in _references


def _on_mapper(mapper: Mapper, class_: type) -> None:
    table = mapper.local_table
    name = table.name if isinstance(table, sa.Table) else class_.__name__
    found = Problems(name)
    audit = class_.__dict__.get("__audit__")
    if audit is not None:
        if not isinstance(table, sa.Table):
            found.add(f"{class_.__name__}: __audit__ needs a mapped Table")
        else:
            for column in found.run(audit_table, table, audit) or ():
                mapper.add_property(column.name, column)
    policy = class_.__dict__.get("__partitioning__")
    distribution = class_.__dict__.get("__distribution__")
    if distribution is not None:
        if not isinstance(distribution, Reference) or not isinstance(table, sa.Table):
            found.add(
                f"{class_.__name__}: __distribution__ must be Reference() on a mapped Table; "
                "distribute partitioned tables with Hash(..., distributed=True) or "
                "Range(..., distributed_by=...)"
            )
        elif policy is not None:
            found.add(
                f"{class_.__name__}: a reference table is copied whole to every node; it "
                "cannot also have __partitioning__"
            )
        else:
            reference_table(table)
    if policy is not None and not isinstance(table, sa.Table):
        found.add(f"{class_.__name__}: __partitioning__ needs a mapped Table")
    elif policy is not None and distribution is None:
        found.run(partition_table, table, policy)
    found.raise_any()


def watch_mappers() -> None:
    """Hook declarative mapping once, so ``__partitioning__`` is seen on every model."""
    global _watching
    if _watching:
        return
    event.listen(Mapper, "after_mapper_constructed", _on_mapper)
    _watching = True
