"""The partitions of a table made in the same transaction as the table (``PARTITION OF``
is safe there), and the record rows that say the tool made them."""

from __future__ import annotations

from .. import sql
from ..declaration.periods import KeyValue, Period
from ..declaration.policies import Hash, Range, TablePolicy
from ..errors import PolicyError
from ..sql import Statement


def periods_between(policy: TablePolicy, start: KeyValue, until: KeyValue) -> list[Period]:
    """Consecutive periods from the one containing ``start`` while they begin before ``until``."""
    stepper = policy.stepper()
    out: list[Period] = []
    period = stepper.period_of(start)
    while period.lower < until:  # type: ignore[operator]
        out.append(period)
        period = stepper.following(period)
    return out


def new_table_statements(
    policy: TablePolicy,
    start: KeyValue | None = None,
    until: KeyValue | None = None,
    sub_window: tuple[KeyValue, KeyValue] | None = None,
) -> list[Statement]:
    """Partitions of a parent created in the same transaction (``PARTITION OF`` is safe);
    ``sub_window``: the periods each partition partitioned by ``Range`` in turn starts with."""
    p, schema = policy.policy, policy.schema
    out: list[Statement] = []
    if isinstance(p, Hash):
        for r in range(p.partitions):
            out.append(
                sql.create_hash_partition_of(
                    policy.table, policy.hash_name(r), p.partitions, r, schema
                )
            )
        return out
    assert start is not None and until is not None
    sub = p.subpartition
    for period in periods_between(policy, start, until):
        name = policy.partition_name(period.suffix)
        out.append(
            sql.create_range_partition_of(
                policy.table,
                name,
                period.lower,
                period.upper,
                policy.key_type,
                schema,
                hash_column=sub.column if sub else None,
                sub_strategy=sub.kind if sub else "hash",
            )
        )
        if policy.subpartition is not None:
            out += sub_partitions_of(policy, name)
        elif sub is not None:
            out += range_sub_partitions(policy, name, _window(policy, sub_window))
    if p.default:
        out.append(sql.create_default_partition_of(policy.table, policy.default_name, schema))
    return out


def new_table_records(
    policy: TablePolicy,
    start: KeyValue | None = None,
    until: KeyValue | None = None,
    *,
    legacy: tuple[str, KeyValue] | None = None,
    sub_window: tuple[KeyValue, KeyValue] | None = None,
) -> list[Statement]:
    """The record rows of the partitions :func:`new_table_statements` makes (and of a
    converted table's ``legacy`` partition, up to its bound): from the moment they exist,
    the record says the tool made them, so retention may expire them."""
    p, schema, t = policy.policy, policy.schema, policy.table
    out: list[Statement] = []
    if isinstance(p, Hash):
        names = [policy.hash_name(r) for r in range(p.partitions)]
        return [sql.record_partition("attached", t, n, None, None, schema) for n in names]
    if not isinstance(p, Range):
        return []
    if legacy is not None:
        out.append(sql.record_partition("attached", t, legacy[0], None, legacy[1], schema))
    if start is not None and until is not None:
        for period in periods_between(policy, start, until):
            name = policy.partition_name(period.suffix)
            out.append(
                sql.record_partition("attached", t, name, period.lower, period.upper, schema)
            )
            ranged = policy.range_sub_policy(name)
            if ranged is not None:
                out += new_table_records(ranged, *_window(policy, sub_window))
    if p.default:
        out.append(sql.record_partition("attached", t, policy.default_name, None, None, schema))
    return out


def sub_partitions_of(
    policy: TablePolicy, partition: str, *, strict: bool = False
) -> list[Statement]:
    """The hash partitions of a range partition that is new in this transaction;
    ``strict``: a table already named like one stops the step."""
    sub = policy.subpartition
    assert sub is not None
    return [
        sql.create_hash_partition_of(
            partition, name, sub.partitions, r, policy.schema, if_not_exists=not strict
        )
        for r, name in policy.sub_names(partition)
    ]


def _window(
    policy: TablePolicy, window: tuple[KeyValue, KeyValue] | None
) -> tuple[KeyValue, KeyValue]:
    if window is None:
        raise PolicyError(
            f"{policy.table}: partitions partitioned by Range in turn need the periods they "
            "start with: sub_start= and sub_until= (autogenerate fills them in)"
        )
    return window


def range_sub_partitions(
    policy: TablePolicy,
    partition: str,
    window: tuple[KeyValue, KeyValue],
    *,
    strict: bool = False,
) -> list[Statement]:
    """The partitions of a range partition partitioned by ``Range`` in turn, new in this
    transaction: the periods of ``window``, and its DEFAULT if the sub-policy has one;
    ``strict``: a table already named like one stops the step."""
    sub = policy.range_sub_policy(partition)
    assert sub is not None and isinstance(sub.policy, Range)
    out = [
        sql.create_range_partition_of(
            partition,
            sub.partition_name(period.suffix),
            period.lower,
            period.upper,
            sub.key_type,
            sub.schema,
            if_not_exists=not strict,
        )
        for period in periods_between(sub, *window)
    ]
    if sub.policy.default:
        out.append(sql.create_default_partition_of(partition, sub.default_name, sub.schema))
    return out


def range_sub_policy_rows(policy: TablePolicy, partitions: list[str]) -> list[Statement]:
    """The policy rows of range partitions partitioned by ``Range`` in turn: ``roll`` rolls
    each as a table of its own."""
    out = []
    for name in partitions:
        sub = policy.range_sub_policy(name)
        if sub is not None:
            out.append(sql.upsert_policy(sub.table, sub.schema, sub.policy.to_json(), sub.key_type))
    return out
