"""What a change of a ``List`` declaration takes, step by step, on a live table.

Rows never fail to insert and are never seen twice or not at all: every change that moves
rows holds the parent's lock from before the DEFAULT partition's lock until it commits (as
``roll`` does beside a DEFAULT); the only scan of a live partition, validating its coming
bound, runs before that lock, while reads and writes go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import sql
from ..declaration.lists import List, Value
from ..declaration.periods import KeyValue
from ..declaration.policies import Range, TablePolicy
from ..errors import PolicyError
from ..sql import Statement
from .new_tables import new_table_records, new_table_statements
from .roll import coerce_key


def _sub(policy: TablePolicy) -> tuple[str, str] | None:
    sub = getattr(policy.policy, "subpartition", None)
    return (sub.kind, sub.column) if sub is not None else None


def sub_partitions(
    policy: TablePolicy, name: str, start: KeyValue | None, until: KeyValue | None
) -> list[Statement]:
    """The partitions of list partition ``name`` when it is partitioned in turn (it is new
    in this transaction, or an archive taken back: existing ones are kept)."""
    sub = policy.list_sub_policy(name)
    if sub is None:
        return []
    if isinstance(sub.policy, Range):
        if start is None or until is None:
            raise PolicyError(
                f"{policy.table}: list partitions range-partitioned in turn need start= and "
                "until= (autogenerate fills them in)"
            )
        return new_table_statements(sub, coerce_key(sub, start), coerce_key(sub, until))
    return new_table_statements(sub)


def sub_partition_records(
    policy: TablePolicy, name: str, start: KeyValue | None, until: KeyValue | None
) -> list[Statement]:
    """The record rows of :func:`sub_partitions`."""
    sub = policy.list_sub_policy(name)
    if sub is None:
        return []
    if isinstance(sub.policy, Range):
        if start is None or until is None:
            return []
        return new_table_records(sub, coerce_key(sub, start), coerce_key(sub, until))
    return new_table_records(sub)


def new_list_table_records(
    policy: TablePolicy, start: KeyValue | None = None, until: KeyValue | None = None
) -> list[Statement]:
    """The record rows of what :func:`new_list_table_statements` makes: the list
    partitions, the DEFAULT, and the partitions of those partitioned in turn."""
    p = policy.policy
    assert isinstance(p, List)
    t, s = policy.table, policy.schema
    out = []
    for name in p.partitions:
        out.append(sql.record_partition("attached", t, policy.list_name(name), None, None, s))
        out += sub_partition_records(policy, name, start, until)
    if p.default:
        out.append(sql.record_partition("attached", t, policy.default_name, None, None, s))
    return out


def sub_policy_rows(policy: TablePolicy, names: list[str]) -> list[Statement]:
    """The policy rows of range-partitioned list partitions: ``roll`` rolls each as a table
    of its own."""
    out = []
    for name in names:
        sub = policy.list_sub_policy(name)
        if sub is not None and isinstance(sub.policy, Range):
            out.append(sql.upsert_policy(sub.table, sub.schema, sub.policy.to_json(), sub.key_type))
    return out


def new_list_table_statements(
    policy: TablePolicy, start: KeyValue | None = None, until: KeyValue | None = None
) -> list[Statement]:
    """Partitions of a parent created in the same transaction."""
    p = policy.policy
    assert isinstance(p, List)
    out = []
    for name, values in p.partitions.items():
        child = policy.list_name(name)
        out.append(
            sql.create_list_partition_of(policy.table, child, values, policy.schema, _sub(policy))
        )
        out += sub_partitions(policy, name, start, until)
    if p.default:
        out.append(
            sql.create_default_partition_of(policy.table, policy.default_name, policy.schema)
        )
    return out


@dataclass
class ListChange:
    """The difference between two declarations of one table, checked."""

    added: dict[str, tuple[Value, ...]] = field(default_factory=dict)
    grown: dict[str, tuple[tuple[Value, ...], tuple[Value, ...]]] = field(default_factory=dict)
    shrunk: dict[str, tuple[tuple[Value, ...], tuple[Value, ...]]] = field(default_factory=dict)
    removed: dict[str, tuple[Value, ...]] = field(default_factory=dict)
    add_default: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.grown or self.shrunk or self.removed or self.add_default)


def list_change(table: str, old: List, new: List) -> ListChange:
    """What changes from ``old`` to ``new``; what cannot be done online is refused here,
    with the reason, before anything runs."""
    if old.column != new.column or old.partition_prefix != new.partition_prefix:
        raise PolicyError(
            f"{table}: the list key or the partition prefix changes; that is a new table, "
            "not a change of its partitions"
        )
    if old.default and not new.default:
        raise PolicyError(
            f"{table}: default=True cannot be taken back by a migration: the DEFAULT "
            "partition holds every unlisted row; detach it by hand once it is empty"
        )
    change = ListChange(add_default=new.default and not old.default)
    for name, values in new.partitions.items():
        before = old.partitions.get(name)
        if before is None:
            change.added[name] = values
            continue
        gained = tuple(v for v in values if not _has(before, v))
        lost = tuple(v for v in before if not _has(values, v))
        if lost:
            change.shrunk[name] = (before, tuple(v for v in before if _has(values, v)))
        if gained:
            change.grown[name] = (tuple(v for v in before if _has(values, v)), values)
    for name, values in old.partitions.items():
        if name not in new.partitions:
            change.removed[name] = values
            moved = [v for v in values if new.owner_of(v) is not None]
            if moved:
                raise PolicyError(
                    f"{table}: {moved[0]!r} leaves the removed partition {name!r} for "
                    f"{new.owner_of(moved[0])!r}; its rows would stay behind in the archive. "
                    "Keep the partition until its values have moved (list them elsewhere in "
                    "one migration, remove the partition in the next)"
                )
    if change.shrunk and not new.default:
        name = next(iter(change.shrunk))
        raise PolicyError(
            f"{table}: values leave {name!r}, and without a DEFAULT partition their rows "
            "would have nowhere to go; declare default=True first"
        )
    return change


def _has(values: tuple[Value, ...], value: Value) -> bool:
    return any(type(v) is type(value) and v == value for v in values)


def checks_before(policy: TablePolicy, change: ListChange) -> list[Statement]:
    """The CHECKs of the partitions whose values grow, validated while writes go on (each
    statement its own transaction)."""
    p = policy.policy
    assert isinstance(p, List)
    out: list[Statement] = []
    for name, (_, values) in change.grown.items():
        if name in change.shrunk:  # its departing values' rows are still there: allowed too
            before = change.shrunk[name][0]
            values = (*before, *(v for v in values if not _has(before, v)))
        out += sql.add_list_check(policy.list_name(name), p.column, values, policy.schema)
    return out


def locked_steps(
    policy: TablePolicy,
    change: ListChange,
    old: List,
    start: KeyValue | None = None,
    until: KeyValue | None = None,
    *,
    removed_rows: str = "archive",
) -> list[Statement]:
    """The change itself, in one transaction: the parent is held first, so no write routes
    with the partitions it saw before and no read misses a row that moves.

    ``removed_rows``: what a removed partition becomes: an ``archive`` (detached, kept, its
    rows out of the table), or, ``default``, its rows go back to the DEFAULT partition and
    the emptied table is dropped (the exact reverse of adding it beside a DEFAULT, which a
    downgrade asks for)."""
    p = policy.policy
    assert isinstance(p, List)
    t, s, col = policy.table, policy.schema, p.column
    default = policy.default_name if old.default else None
    # (on Citus the partition is kept as an archive: its rows are distributed with it)
    back = bool(default and p.default and removed_rows == "default" and not p.distributed_by)
    out: list[Statement] = []
    has_default = old.default or change.add_default
    moving = change.added or change.grown or change.shrunk or (change.removed and back)
    if has_default and moving:
        out.append(sql.lock_parent_for_attach(t, policy.default_name, s, moving=True))
        if default:
            out.append(sql.lock_default(default, s))
    elif change:
        out.append(sql.lock_parent_for_attach(t, policy.default_name, s))
    for name, values in change.removed.items():
        child = policy.list_name(name)
        if back:
            assert default is not None
            out += [
                sql.detach_partition(t, child, s, default=default),
                sql.move_list_rows(child, default, col, values, s),
                sql.forget_partitions(child, s),  # its own partitions', while they exist
                sql.drop_table(child, s, why=sql.EMPTIED_BACK_TO_DEFAULT),
                sql.record_dropped(child, s),
            ]
        else:
            out += [
                sql.detach_partition(t, child, s, default=default),
                sql.record_partition("detached", t, child, None, None, s),
                sql.drop_archive_foreign_keys(child, s),  # an archive references nothing
            ]
        if policy.list_sub_policy(name) is not None:
            out.append(sql.delete_policy(child, s))  # roll leaves the archive alone
    if change.add_default:
        default = policy.default_name
        out += [
            sql.create_detached_child(t, default, s),
            sql.attach_default_partition(t, default, s),
        ]
    for name, (before, after) in change.shrunk.items():
        child = policy.list_name(name)
        gone = tuple(v for v in before if not _has(after, v))
        assert default is not None
        out += [
            sql.detach_partition(t, child, s, default=default),
            sql.move_list_rows(child, default, col, gone, s),
            sql.attach_list_partition(t, child, after, s, default, shrunk=True),
        ]
    for name, values in change.added.items():
        child = policy.list_name(name)
        if _sub(policy) is not None:  # partitioned in turn: attached first, then its partitions
            held = sql.hold_rows(t, default, sql.list_condition(col, values), s) if default else []
            out += [
                *held,
                sql.list_child_or_archive(t, child, s, _sub(policy)),
                sql.attach_list_partition(t, child, values, s, default),
                *sub_partitions(policy, name, start, until),
                *sub_partition_records(policy, name, start, until),
                *(sql.release_rows(child, s) if held else []),
            ]
        else:
            out.append(sql.list_child_or_archive(t, child, s))
            if default:
                out.append(sql.move_list_rows(default, child, col, values, s))
            out.append(sql.attach_list_partition(t, child, values, s, default))
        if p.distributed_by and default:  # Citus distributed the rows moved in
            out.append(sql.truncate_local_data(child, s))
        out.append(sql.record_partition("attached", t, child, None, None, s))
    for name, (before, after) in change.grown.items():
        child = policy.list_name(name)
        gained = tuple(v for v in after if not _has(before, v))
        out.append(sql.detach_partition(t, child, s, default=default))
        if default:
            out.append(sql.move_list_rows(default, child, col, gained, s))
        out += [
            sql.attach_list_partition(t, child, after, s, default),
            sql.drop_list_check(child, s),
        ]
    return out
