"""How each partition of a hash-partitioned table splits when the number of partitions
grows: pure, checked before anything runs."""

from __future__ import annotations

from .. import sql
from ..declaration.policies import Hash, TablePolicy
from ..errors import PolicyError
from ..sql import check_identifier


def hash_split(
    old: TablePolicy,
    new: TablePolicy,
    columns: tuple[str, ...],
    primary_key: tuple[str, ...],
    **limits: int,
) -> list[sql.HashSplit]:
    """How each partition of ``old`` splits into those of ``new``, one partition at a time.

    Remainder ``r`` of modulus ``m`` becomes remainders ``r``, ``r + m``, … of the new
    modulus; PostgreSQL accepts the mixed moduli of a half-done split because each divides
    the next.
    """
    assert isinstance(old.policy, Hash) and isinstance(new.policy, Hash)
    m, n = old.policy.partitions, new.policy.partitions
    if n < m:
        raise PolicyError(
            f"{old.table}: cannot shrink from {m} to {n} hash partitions; merging partitions "
            f"is not supported, keep partitions={m}"
        )
    if n % m:
        raise PolicyError(
            f"{old.table}: {n} hash partitions cannot be split from {m}: each old partition "
            f"splits into equal parts, so use a multiple of {m} such as {2 * m}"
        )
    if not primary_key:
        raise PolicyError(
            f"{old.table}: splitting hash partitions online needs a primary key (it keeps the "
            "copies current while the application writes); add one that includes "
            f"{old.policy.column!r}"
        )
    missing = [c for c in primary_key if c not in columns]
    if missing or old.policy.column not in columns:
        raise PolicyError(f"{old.table}: columns= must list every column, {missing} missing")
    splits = []
    for r in range(m):
        child = old.hash_name(r)
        targets = []
        for k in range(n // m):
            final = new.hash_name(r + k * m)
            build = final if final != child else check_identifier(f"{final}_new", "split table")
            targets.append(sql.SplitTarget(r + k * m, build, final))
        split = sql.HashSplit(
            parent=old.table,
            schema=old.schema,
            column=old.policy.column,
            columns=columns,
            primary_key=primary_key,
            child=child,
            modulus=m,
            remainder=r,
            new_modulus=n,
            targets=tuple(targets),
            retired=check_identifier(f"{child}_old", "retired partition"),
            **limits,
        )
        for name in split.names():
            check_identifier(name, f"{old.table}: name")
        splits.append(split)
    return splits
