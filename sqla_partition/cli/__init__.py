"""The ``sqla-partition`` command.

User mistakes end in one line on stderr and exit code 2, never a traceback. Heavy
imports (SQLAlchemy, Alembic) happen inside the commands that need them, so the cron path
(``roll``, ``status``, ``check``) starts fast.
"""

from __future__ import annotations

import click

from .cron import check, reattach, roll, status
from .tools import adopt, advise, demo, init, lint, split_legacy_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sqla-partition")
def main() -> None:
    """PostgreSQL partitioning for SQLAlchemy and Alembic.

    Declare Range(...), Hash(...) or List(...) as __partitioning__ on a model, let
    `alembic revision --autogenerate` write the migration, and review it with
    `alembic upgrade head --sql`.
    """


for _command in (
    init,
    demo,
    roll,
    status,
    check,
    reattach,
    lint,
    advise,
    adopt,
    split_legacy_command,
):
    main.add_command(_command)

__all__ = ["main"]
