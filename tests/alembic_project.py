"""A throw-away Alembic project around ``sample_project/sample_models.py``."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from sqla_partition.tools.scaffold import init_environment


@dataclass
class Project:
    root: Path
    ini: Path

    @property
    def config(self) -> Config:
        cfg = Config(str(self.ini))
        cfg.set_main_option("script_location", str(self.root / "migrations"))
        return cfg

    def revision(self, message: str = "auto") -> str:
        script = command.revision(self.config, message=message, autogenerate=True)
        return Path(script.path).read_text()

    def upgrade(self, target: str = "head") -> None:
        command.upgrade(self.config, target)

    def downgrade(self, target: str) -> None:
        command.downgrade(self.config, target)

    def offline_sql(self, target: str = "head") -> str:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            command.upgrade(self.config, target, sql=True)
        return buf.getvalue()

    def check(self) -> None:
        command.check(self.config)

    def versions(self) -> list[Path]:
        return sorted((self.root / "migrations" / "versions").glob("*.py"))


def make_project(root: Path, url: str, metadata: str = "sample_models:Base.metadata") -> Project:
    ini = init_environment(root / "migrations", metadata=metadata, url=url)
    return Project(root, ini)


NOW = "2026-11-27T10:00:00+00:00"


@contextlib.contextmanager
def models_project(
    root: Path, url: str, monkeypatch: Any, module: str, source: str, now: str = NOW
) -> Iterator[Project]:
    """A project around models written to ``root/module.py``, autogenerate's clock set to
    ``now`` (a fixed date, or the test clock's ``NOW`` for tests whose rows follow it).

    The module is imported afresh by each Alembic command (tests edit it or the
    environment variables it reads between commands).
    """
    (root / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SQLA_PARTITION_NOW", now)
    sys.modules.pop(module, None)
    try:
        yield make_project(root, url, metadata=f"{module}:Base.metadata")
    finally:
        sys.modules.pop(module, None)
