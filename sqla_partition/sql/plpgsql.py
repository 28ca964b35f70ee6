"""PL/pgSQL building blocks: DO blocks, dollar quotes that never occur in their bodies, and
lock waits retried within a bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Waits(Protocol):
    """What a retried step needs to know: how long to wait for a lock, how often to retry."""

    @property
    def lock_timeout_ms(self) -> int: ...

    @property
    def retries(self) -> int: ...


def dollar_quote(body: str, tag: str) -> str:
    """Dollar-quote ``body`` with a tag it does not contain (names may contain ``$``)."""
    n = 0
    while f"${tag}{n or ''}$" in body:
        n += 1
    return f"${tag}{n or ''}$"


@dataclass(frozen=True)
class Bounds:
    """How long a step may wait for a lock, and how often it tries again."""

    lock_timeout_ms: int = 5000
    retries: int = 5


def retrying(s: Waits, body: str, indent: str = "  ") -> str:
    """Run ``body`` in a subtransaction, again after a lock timeout, up to ``retries`` times;
    ``worst`` keeps the longest attempt, failed ones included (writers queue behind each).
    Waits stop at half of ``deadlock_timeout`` at most: a writer that takes the same locks
    in another order then never waits long enough to be chosen as a deadlock's victim.

    A serialization failure is retried too: reading a row that a concurrent update just
    moved to another partition can raise one, and the next attempt no longer sees it.
    """
    inner = "".join(f"{indent}    {line}\n" for line in body.strip("\n").split("\n"))
    return (
        f"{indent}attempt := 0;\n"
        f"{indent}LOOP\n"
        f"{indent}  started := clock_timestamp();\n"
        f"{indent}  BEGIN\n"
        f"{indent}    PERFORM set_config('lock_timeout', least({int(s.lock_timeout_ms)}, "
        "extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, "
        "true);\n"
        f"{inner}"
        f"{indent}    worst := greatest(worst, clock_timestamp() - started);\n"
        f"{indent}    EXIT;\n"
        f"{indent}  EXCEPTION WHEN lock_not_available OR deadlock_detected OR "
        "serialization_failure THEN\n"
        f"{indent}    worst := greatest(worst, clock_timestamp() - started);\n"
        f"{indent}    attempt := attempt + 1;\n"
        f"{indent}    IF attempt > {int(s.retries)} THEN RAISE; END IF;\n"
        f"{indent}    PERFORM pg_sleep(0.2 * attempt);\n"
        f"{indent}  END;\n"
        f"{indent}END LOOP;\n"
    )


RETRY_VARS = "  attempt int;\n  started timestamptz;\n  worst interval := interval '0';\n"


def do_block(body: str, declare: str = "") -> str:
    tag = dollar_quote(body, "do")
    head = f"DO {tag}\nDECLARE\n{declare}BEGIN\n" if declare else f"DO {tag}\nBEGIN\n"
    return f"{head}{body}END\n{tag}"
