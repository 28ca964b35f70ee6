"""How autogenerate writes the operations into a migration file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.autogenerate import render as alembic_render
from alembic.autogenerate import renderers

from ..sql.statement import inert
from .ops import (
    AddPartitionKeyValuesOp,
    AlterListPartitionsOp,
    AttachPartitionOp,
    CreateIndexOnlineOp,
    CreatePartitionedIndexOp,
    CreatePartitionedTableOp,
    CreateRangePartitionOp,
    DetachPartitionOp,
    DisableAuditOp,
    DistributeTableOp,
    DropPartitionedTableOp,
    DropPartitionOp,
    DroppedWithTableOp,
    EnableAuditOp,
    KeepPartitionKeyValuesOp,
    PartitionExistingTableOp,
    RecommendedOp,
    ReindexOp,
    SetPartitionPolicyOp,
    SplitHashPartitionsOp,
    SplitShardsOp,
    UndistributeTableOp,
    UnpartitionTableOp,
)

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

IMPORT = "import sqla_partition"


def _policy(ctx: AutogenContext, policy: Any) -> str:
    ctx.imports.add(IMPORT)
    sub = getattr(policy, "subpartition", None)
    if sub is not None:  # the nested policy's repr
        ctx.imports.add(f"from sqla_partition import {type(sub).__name__}")
    return "None" if policy is None else f"sqla_partition.{policy!r}"


def _prefix(ctx: AutogenContext) -> str:
    return alembic_render._alembic_autogenerate_prefix(ctx)


@renderers.dispatch_for(CreatePartitionedTableOp)
def _create(ctx: AutogenContext, op: CreatePartitionedTableOp) -> str:
    text = alembic_render._add_table(ctx, op)
    head = f"{_prefix(ctx)}create_table("
    assert text.startswith(head) and text.endswith("\n)")
    text = f"{_prefix(ctx)}create_partitioned_table(" + text[len(head) : -2]
    extra = [f"partitioning={_policy(ctx, op.partitioning)}"]
    if op.start is not None:
        extra.append(f"start={op.start!r}")
    if op.until is not None:
        extra.append(f"until={op.until!r}")
    if op.sub_start is not None:
        extra.append(f"sub_start={op.sub_start!r}")
    if op.sub_until is not None:
        extra.append(f"sub_until={op.sub_until!r}")
    if op.distributed:
        extra.append("distributed=True")
    return text + ",\n" + ",\n".join(extra) + "\n)"


@renderers.dispatch_for(DropPartitionedTableOp)
def _drop(ctx: AutogenContext, op: DropPartitionedTableOp) -> str:
    args = [repr(op.table_name)]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    args.append(f"archives={op.archives!r}")  # what happens to detached partitions, visibly
    return f"{_prefix(ctx)}drop_partitioned_table({', '.join(args)})"


@renderers.dispatch_for(SetPartitionPolicyOp)
def _set_policy(ctx: AutogenContext, op: SetPartitionPolicyOp) -> str:
    args = [repr(op.table_name), _policy(ctx, op.partitioning), f"old={_policy(ctx, op.old)}"]
    args.append(f"key_type={op.key_type!r}")
    if op.schema:
        args.append(f"schema={op.schema!r}")
    if op.partitions:
        args.append(f"partitions={[tuple(p) for p in op.partitions]!r}")
    return f"{_prefix(ctx)}set_partition_policy({', '.join(args)})"


@renderers.dispatch_for(SplitHashPartitionsOp)
def _split(ctx: AutogenContext, op: SplitHashPartitionsOp) -> str:
    args = [
        repr(op.table_name),
        _policy(ctx, op.partitioning),
        f"old_partitions={op.old_partitions!r}",
        f"columns={list(op.columns)!r}",
        f"primary_key={list(op.primary_key)!r}",
    ]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    return f"{_prefix(ctx)}split_hash_partitions({', '.join(args)})"


@renderers.dispatch_for(AddPartitionKeyValuesOp)
@renderers.dispatch_for(KeepPartitionKeyValuesOp)
def _enum_key_values(ctx: AutogenContext, op: Any) -> str:
    name = "add" if isinstance(op, AddPartitionKeyValuesOp) else "keep"
    args = [repr(op.type_name), repr(list(op.values))]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    call = f"{_prefix(ctx)}{name}_partition_key_values({', '.join(args)})"
    if name == "keep":  # the reviewer reads why the downgrade leaves them
        note = (
            f"# {inert(op.type_name)} partitions a table: PostgreSQL cannot change a "
            "partition key's type, so these values stay"
        )
        return f"{note}\n{call}"
    return call


@renderers.dispatch_for(AlterListPartitionsOp)
def _alter_list(ctx: AutogenContext, op: AlterListPartitionsOp) -> str:
    ctx.imports.add(IMPORT)
    args = [
        repr(op.table_name),
        _policy(ctx, op.partitioning),
        f"old={_policy(ctx, op.old)}",
    ]
    if op.key_type != "list":
        args.append(f"key_type={op.key_type!r}")
    if op.start is not None:
        args += [f"start={op.start!r}", f"until={op.until!r}"]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    if op.removed_rows != "archive":
        args.append(f"removed_rows={op.removed_rows!r}")
    return f"{_prefix(ctx)}alter_list_partitions({', '.join(args)})"


@renderers.dispatch_for(SplitShardsOp)
def _split_shards(ctx: AutogenContext, op: SplitShardsOp) -> str:
    ctx.imports.add(IMPORT)
    args = [
        repr(op.table_name),
        f"sqla_partition.{op.partitioning!r}",
        f"old_shard_count={op.old_shard_count}",
    ]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    return f"{_prefix(ctx)}split_shards({', '.join(args)})"


@renderers.dispatch_for(DroppedWithTableOp)
def _nothing(ctx: AutogenContext, op: DroppedWithTableOp) -> list[str]:
    return []  # the table's drop, further down, takes its shards with it


@renderers.dispatch_for(DistributeTableOp)
@renderers.dispatch_for(UndistributeTableOp)
def _distribution(ctx: AutogenContext, op: DistributeTableOp | UndistributeTableOp) -> str:
    args = [repr(op.table_name)]
    if op.column:
        args.append(repr(op.column))
    for name, value in op._args().items():
        if value:
            args.append(f"{name}={value!r}")
    return f"{_prefix(ctx)}{op.diff_name}({', '.join(args)})"


@renderers.dispatch_for(EnableAuditOp)
@renderers.dispatch_for(DisableAuditOp)
def _audit(ctx: AutogenContext, op: EnableAuditOp | DisableAuditOp) -> str:
    ctx.imports.add(IMPORT)
    args = [repr(op.table_name), f"sqla_partition.{op.audit!r}"]
    if op.primary_key:
        args.append(f"primary_key={list(op.primary_key)!r}")
    if op.columns:
        args.append(f"columns={list(op.columns)!r}")
    if op.old is not None:
        args.append(f"old=sqla_partition.{op.old!r}")
    if op.old_columns:
        args.append(f"old_columns={list(op.old_columns)!r}")
    if op.schema:
        args.append(f"schema={op.schema!r}")
    return f"{_prefix(ctx)}{op.diff_name}({', '.join(args)})"


@renderers.dispatch_for(CreatePartitionedIndexOp)
@renderers.dispatch_for(CreateIndexOnlineOp)
def _partitioned_index(ctx: AutogenContext, op: CreatePartitionedIndexOp) -> str:
    args = [repr(op.index_name), repr(op.table_name), repr(list(op.columns))]
    if op.unique:
        args.append("unique=True")
    if op.schema:
        args.append(f"schema={op.schema!r}")
    if op.postgresql_using:
        args.append(f"postgresql_using={op.postgresql_using!r}")
    if op.partitions:
        args.append(f"partitions={[tuple(p) for p in op.partitions]!r}")
    name = "create_partitioned_index" if op.partitioned else "create_index_online"
    return f"{_prefix(ctx)}{name}({', '.join(args)})"


@renderers.dispatch_for(ReindexOp)
def _reindex(ctx: AutogenContext, op: ReindexOp) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"{_prefix(ctx)}reindex_index({op.index_name!r}{schema})"


@renderers.dispatch_for(RecommendedOp)
def _recommended(ctx: AutogenContext, op: RecommendedOp) -> str:
    inner = alembic_render.render_op_text(ctx, op.op)
    return f"# sqla-partition recommends ({inert(op.rule)}): {inert(op.reason)}\n{inner}"


@renderers.dispatch_for(PartitionExistingTableOp)
@renderers.dispatch_for(UnpartitionTableOp)
def _partition_existing(ctx: AutogenContext, op: Any) -> str:
    args = [
        repr(op.table_name),
        _policy(ctx, op.partitioning),
        f"legacy_until={op.legacy_until!r}",
        f"until={op.until!r}",
        f"key_type={op.key_type!r}",
    ]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    name = "unpartition_table" if isinstance(op, UnpartitionTableOp) else "partition_existing_table"
    return f"{_prefix(ctx)}{name}({', '.join(args)})"


_PARTITION_OPS = {
    CreateRangePartitionOp: "create_range_partition",
    AttachPartitionOp: "attach_partition",
    DetachPartitionOp: "detach_partition",
    DropPartitionOp: "drop_partition",
}


def _partition_op(ctx: AutogenContext, op: Any) -> str:
    args = [repr(op.table_name), repr(op.partition_name), repr(op.lower), repr(op.upper)]
    for name, value in op._args().items():
        if value is not None:
            args.append(f"{name}={value!r}")
    return f"{_prefix(ctx)}{_PARTITION_OPS[type(op)]}({', '.join(args)})"


for _cls in _PARTITION_OPS:
    renderers.dispatch_for(_cls)(_partition_op)
