"""Alembic operations for partitioned tables.

Every operation carries, as arguments, all it needs from the database (captured when
the migration was generated), so ``alembic upgrade --sql`` renders it without reading
anything. Each has a ``reverse()`` for downgrades and a ``to_diff_tuple()`` for
``alembic check``. Importing this package registers them as ``op.<name>``.
"""

from __future__ import annotations

from ...declaration.policies import Range
from .audit import DisableAuditOp, EnableAuditOp
from .enums import AddPartitionKeyValuesOp, KeepPartitionKeyValuesOp
from .indexes import CreateIndexOnlineOp, CreatePartitionedIndexOp, RecommendedOp, ReindexOp
from .lists import AlterListPartitionsOp
from .partitions import (
    AttachPartitionOp,
    CreateRangePartitionOp,
    DetachPartitionOp,
    DropPartitionOp,
    SetPartitionPolicyOp,
)
from .shards import (
    DistributeTableOp,
    DroppedWithTableOp,
    SplitHashPartitionsOp,
    SplitShardsOp,
    UndistributeTableOp,
)
from .tables import (
    CreatePartitionedTableOp,
    DropPartitionedTableOp,
    PartitionExistingTableOp,
    UnpartitionTableOp,
)

__all__ = [
    "AddPartitionKeyValuesOp",
    "KeepPartitionKeyValuesOp",
    "AlterListPartitionsOp",
    "AttachPartitionOp",
    "CreateIndexOnlineOp",
    "CreatePartitionedIndexOp",
    "CreatePartitionedTableOp",
    "CreateRangePartitionOp",
    "DetachPartitionOp",
    "DisableAuditOp",
    "DistributeTableOp",
    "DroppedWithTableOp",
    "DropPartitionOp",
    "DropPartitionedTableOp",
    "EnableAuditOp",
    "PartitionExistingTableOp",
    "Range",
    "RecommendedOp",
    "ReindexOp",
    "SetPartitionPolicyOp",
    "SplitHashPartitionsOp",
    "SplitShardsOp",
    "UndistributeTableOp",
    "UnpartitionTableOp",
]
