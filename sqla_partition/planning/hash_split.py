"""How each partition of a hash-partitioned table splits when the number of partitions
grows: pure, checked before anything runs."""

from __future__ import annotations

import math

from .. import sql
from ..declaration.policies import Hash, TablePolicy
from ..errors import PolicyError
from ..sql import check_identifier
from ..sql import hash_merge as hash_merge_sql


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
            records=(
                *(
                    sql.record_partition("attached", old.table, t.final, None, None, old.schema).sql
                    for t in targets
                ),
                *(
                    ()
                    if child in {t.final for t in targets}
                    else (sql.record_dropped(child, old.schema).sql,)
                ),
            ),
            **limits,
        )
        for name in split.names():
            check_identifier(name, f"{old.table}: name")
        splits.append(split)
    return splits


def hash_rebuild(old: TablePolicy, new: TablePolicy) -> list[sql.Statement]:
    """The statements that give ``old``'s table ``new``'s partitions in one transaction
    holding the table (see :mod:`sql.hash_merge`): a merge (the downgrade of a split), or
    a split where it cannot commit between steps (inside a caller's transaction).

    New remainder ``r`` of modulus ``n`` takes the rows of the old remainders ``i`` of
    modulus ``m`` with ``i ≡ r`` modulo ``gcd(m, n)``, filtered by its own bound where
    ``n`` does not divide ``m``; one of the two must divide the other, as a split's does."""
    assert isinstance(old.policy, Hash) and isinstance(new.policy, Hash)
    m, n = old.policy.partitions, new.policy.partitions
    if m == n or (m % n and n % m):
        raise PolicyError(
            f"{old.table}: {m} hash partitions become {n} only where one divides the "
            f"other (such as {m // 2 or 1} or {2 * m})"
        )
    g = math.gcd(m, n)
    t, s, column = old.table, old.schema, old.policy.column
    out = [hash_merge_sql.refuse_referenced(t, s), hash_merge_sql.lock_for_merge(t, s)]
    builds = []
    for r in range(n):
        final = new.hash_name(r)
        build = check_identifier(f"{final}_rebuild", "rebuild table")
        builds.append((r, build, final))
        out.append(hash_merge_sql.create_merge_table(t, build, s))
        only = (t, column, n, r) if n > g else None
        for i in range(r % g, m, g):
            out.append(hash_merge_sql.copy_into(old.hash_name(i), build, s, only))
    for i in range(m):
        child = old.hash_name(i)
        out += [
            sql.detach_partition(t, child, s),
            sql.drop_table(child, s, why=sql.REBUILT),
            sql.record_dropped(child, s),
        ]
    for r, build, final in builds:
        out += [
            hash_merge_sql.rename_table(build, final, s),
            hash_merge_sql.attach_hash_partition(t, final, n, r, s),
            sql.record_partition("attached", t, final, None, None, s),
        ]
    return out
