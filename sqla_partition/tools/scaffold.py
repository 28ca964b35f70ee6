"""``sqla-partition init``: an Alembic environment wired for the plugin."""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from string import Template

from ..catalog.connect import secrets_of
from ..errors import SqlaPartitionError

TEMPLATE = "sqla_partition"
_COPIED = ("env.py", "script.py.mako", "README")


def template_dir() -> Path:
    root = resources.files("sqla_partition.migrations_templates") / TEMPLATE
    return Path(str(root))


def init_environment(
    directory: Path,
    *,
    ini_path: Path | None = None,
    metadata: str | None = None,
    url: str | None = None,
) -> Path:
    """Write ``directory`` (env.py, script.py.mako, versions/) and an ``alembic.ini``.

    Returns the path of the ini file. Refuses to overwrite anything.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise SqlaPartitionError(f"{directory} already exists and is not empty")
    ini_path = Path(ini_path) if ini_path else directory.absolute().parent / "alembic.ini"
    if ini_path.exists():
        raise SqlaPartitionError(
            f"{ini_path} already exists; pass --ini to write the configuration elsewhere"
        )
    src = template_dir()
    (directory / "versions").mkdir(parents=True)
    for name in _COPIED:
        shutil.copyfile(src / name, directory / name)
    try:
        location = directory.absolute().relative_to(ini_path.absolute().parent).as_posix()
        location = f"%(here)s/{location}"
    except ValueError:
        location = directory.absolute().as_posix()
    text = Template((src / "alembic.ini.mako").read_text()).safe_substitute(
        script_location=location
    )
    if metadata:
        text = text.replace(
            "target_metadata = myapp.models:Base.metadata", f"target_metadata = {metadata}"
        )
    if url:
        text = text.replace("sqlalchemy.url =", f"sqlalchemy.url = {url.replace('%', '%%')}", 1)
    if url and secrets_of(url):  # a password: readable by its owner only
        fd = os.open(ini_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
    else:
        ini_path.write_text(text)
    return ini_path
