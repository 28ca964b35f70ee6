"""What roll says when a table cannot go on: one line naming the table and the ways out."""

from __future__ import annotations

from typing import Any

from ..catalog.snapshot import Parent
from ..errors import SqlaPartitionError
from ..planning.roll import Step
from ..sql.quoting import ident
from ..sql.statement import inert
from .results import RollOptions


def not_ours(parent: Parent, step: Step, error: BaseException) -> str:
    """``error``: PostgreSQL's duplicate-table error, which names the table that exists."""
    found = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    return (
        f"{inert(parent.schema)}.{inert(step.partition)} was not created: {inert(found)}, "
        "and roll never "
        "takes a table it did not create as a partition (a detached archive, or another "
        f"table). To put an archive back: sqla-partition reattach {inert(parent.name)} "
        f"{inert(step.partition)} (status lists the archives); otherwise rename or drop "
        "it. Its other periods and the other tables went on"
    )


def backlog_message(parent: Parent, step: Step, rows: int, options: RollOptions) -> str:
    """What the operator reads when a period's rows wait in the DEFAULT partition."""
    assert parent.default is not None
    table = inert(f"{parent.schema}.{parent.name}")
    default = inert(parent.default.name)
    return (
        f"{rows:,} rows of {inert(step.partition)}'s period are in {default}, more than "
        f"--max-move-rows {options.max_move_rows:,}; moving them holds writes to {table} "
        f"until they have moved. They stay in {default}, visible, until you run "
        f"sqla-partition roll --table {table} --max-move-rows {rows} at a time when that "
        "pause is acceptable"
    )


def expired_message(parent: Parent, rows: int, cutoff: object) -> str:
    """Rows in the DEFAULT partition older than retention, left where they are."""
    assert parent.default is not None
    table = inert(f"{parent.schema}.{parent.name}")
    when = cutoff.isoformat() if hasattr(cutoff, "isoformat") else str(cutoff)
    return (
        f"{rows:,} rows older than retention (before {when}) stay in "
        f"{inert(parent.default.name)}: sqla-partition roll --table {table} --place-default "
        "--expired archive puts them into partitions that retention then detaches (kept as "
        "archives), --expired delete deletes them"
    )


def privilege_message(parent: Parent, error: str) -> str:
    """A privilege the role running roll lacks, with what to grant."""
    owner = inert(ident(parent.owner) if parent.owner else "the table's owner")
    return (
        f"{inert(error)}: roll makes, attaches and detaches partitions as the table's owner "
        f"({owner}); run it as that role or as a member of it (GRANT {owner} TO the roll "
        "role), with the owner allowed to write sqla_partition_policy and "
        "sqla_partition_partitions (docs/security.md: Security and privileges)"
    )


def still_referenced(parent: Parent, step: Step, error: BaseException) -> str:
    """An expired partition another table still refers to: it is left, the others expire."""
    found = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    detail = getattr(getattr(error, "diag", None), "message_detail", None)
    why = inert(found) + (f" ({inert(detail.splitlines()[0])})" if detail else "")
    name = f"{inert(parent.schema)}.{inert(step.partition)}"
    if step.kind == "detach":
        return (
            f"{name} is past retention but another table refers to its rows, so it stays "
            f"attached: {why}. Its other periods expired; a later run detaches it once "
            "nothing refers to its rows"
        )
    undone = {"drop": "dropped", "archive": "moved to its archive schema"}.get(
        step.kind, "unlinked"
    )
    return (
        f"{name} is past retention and detached, but not {undone}: {why}. It is kept "
        "as an archive (status lists it); its other periods expired. Once nothing refers "
        "to it, drop it by hand"
    )


def session_role(conn: Any) -> str:
    """The role that opened the session (a superuser's name, for :func:`superuser_refusal`)."""
    return str(conn.info.parameter_status("session_authorization") or "superuser")


def refuse_superuser(conn: Any, superuser: bool, parent: Parent) -> None:
    """A superuser's session may not run the code of a table a non-superuser owns."""
    if superuser and not parent.owner_super:
        raise SqlaPartitionError(superuser_refusal(parent, session_role(conn)))


def superuser_refusal(parent: Parent, role: str) -> str:
    """roll in a superuser's session on a table a non-superuser owns."""
    owner = inert(ident(parent.owner) if parent.owner else "the table's owner")
    return (
        f"{inert(parent.schema)}.{inert(parent.name)}: not rolled in a superuser's session "
        f"({inert(ident(role))}): the table's owner {owner} is no superuser, and its code "
        "that roll's steps run (triggers, index expressions, defaults, checks) would run with "
        f"superuser rights (RESET ROLE undoes SET ROLE). Run roll as {owner}, or as a role "
        f"that is a member of it (GRANT {owner} TO the roll role; docs/security.md)"
    )
