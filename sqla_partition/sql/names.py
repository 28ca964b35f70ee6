"""Names PostgreSQL accepts as they are: at most 63 bytes, or it truncates them silently."""

from __future__ import annotations

from ..errors import PolicyError

MAX_IDENTIFIER_BYTES = 63


def check_identifier(name: str, what: str) -> str:
    """Refuse names PostgreSQL would silently truncate to 63 bytes."""
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        derived = "partition name" in what or "generated name" in what
        hint = (
            "Use a shorter table name or set partition_prefix= to a shorter one"
            if derived
            else "Use a shorter name"
        )
        raise PolicyError(
            f"{what} {name!r} is {size} bytes; PostgreSQL truncates names over "
            f"{MAX_IDENTIFIER_BYTES} bytes. {hint}"
        )
    return name


def digest(text: str, length: int) -> str:
    """The first ``length`` hex digits of ``text``'s SHA-1: a stable short name part (the
    cron path imports hashlib, which loads OpenSSL, only when a name needs one)."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]
