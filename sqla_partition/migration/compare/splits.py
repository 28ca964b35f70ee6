"""A hash table declared with more partitions than recorded: split online, or on Citus
its shards."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from alembic.util import CommandError

from ...catalog.snapshot import Snapshot
from ...declaration.policies import Hash, TablePolicy
from ...errors import PolicyError
from ...planning.hash_split import hash_split
from ..ops import SplitHashPartitionsOp, SplitShardsOp


def distributed(snap: Snapshot, policy: Hash) -> bool:
    """A hash table is distributed when asked, or by default on a Citus database."""
    return snap.has_citus if policy.distributed is None else policy.distributed


def split_op(
    table: sa.Table, bound: TablePolicy, recorded: Any, snap: Snapshot, key: tuple[str, str]
) -> SplitHashPartitionsOp | SplitShardsOp | None:
    """A hash table declared with more partitions than recorded grows by splitting (its
    shards, on Citus: from the count Citus has, which a split outside a migration may have
    changed; declared as Citus has it, the policy is only recorded)."""
    new = bound.policy
    if not (isinstance(new, Hash) and isinstance(recorded, Hash)):
        return None
    spread = snap.citus_tables.get(key)
    if spread is not None and spread.kind == "distributed" and spread.shard_count:
        recorded = dataclasses.replace(recorded, partitions=spread.shard_count)
    if new.partitions == recorded.partitions:
        return None
    if dataclasses.replace(recorded, partitions=new.partitions) != new:
        raise CommandError(
            f"{bound.table}: partitions= changes together with other settings "
            f"({recorded!r} -> {new!r}); change the partition count alone in one migration, "
            "the rest in another"
        )
    if distributed(snap, recorded):
        if new.partitions < recorded.partitions:
            raise CommandError(
                f"{bound.table}: Citus cannot merge shards; it keeps its "
                f"{recorded.partitions} (declare partitions={recorded.partitions})"
            )
        try:
            return SplitShardsOp(
                bound.table, new, old_shard_count=recorded.partitions, schema=bound.schema
            )
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
    op = SplitHashPartitionsOp(
        bound.table,
        new,
        old_partitions=recorded.partitions,
        columns=[c.name for c in table.columns if c.computed is None],
        primary_key=[c.name for c in table.primary_key.columns],
        schema=bound.schema,
    )
    try:  # refuse shrinking and impossible splits now, with the reason, not at upgrade
        hash_split(
            TablePolicy(bound.table, recorded, "hash", bound.schema),
            bound,
            op.columns,
            op.primary_key,
        )
    except PolicyError as exc:
        raise CommandError(str(exc)) from None
    return op
