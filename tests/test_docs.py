"""The documentation: the site builds with no warning, every Python example in it is valid
Python, and the README's quickstart runs as written against the test server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(text: str, language: str) -> list[str]:
    """Fenced blocks of ``language``, dedented (a block inside a list item is indented)."""
    found = re.findall(rf"^([ \t]*)```{language}\n(.*?)^[ \t]*```", text, re.S | re.M)
    return [textwrap.dedent(code) for _, code in found]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_example_is_valid_python(page):
    for n, code in enumerate(blocks(page.read_text(), "python")):
        try:
            compile(code, f"{page.name}[{n}]", "exec")
        except SyntaxError as exc:
            pytest.fail(f"{page.name}, Python example {n + 1}: {exc}\n{code}")


def test_the_site_builds_without_a_warning(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]' installs it)")
    run = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "cli" / "index.html").read_text().count("sqla-partition roll")


def test_the_quickstart_runs_as_written(tmp_path, db_url):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") : readme.index("## Commands")]
    models = blocks(section, "python")[0]
    steps = blocks(section, "bash")[1]  # the first installs and starts a database
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "models.py").write_text(models)
    (tmp_path / "steps.sh").write_text(steps)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLA_PARTITION")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DATABASE_URL"] = db_url
    run = subprocess.run(
        ["bash", "-e", "steps.sh"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No new upgrade operations detected." in run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("OK: 1 table covered through premake")


def cli_reference() -> str:
    """docs/cli.md as the commands' own --help prints it (exit codes included)."""
    from click.testing import CliRunner

    from sqla_partition.cli import main

    runner = CliRunner()
    parts = [
        "# Command line reference\n\n"
        "Each command's own `--help`, as `sqla-partition COMMAND --help` prints it "
        "(tests/test_docs.py keeps this page to it; `SQLA_PARTITION_UPDATE_DOCS=1 pytest "
        "tests/test_docs.py` writes it again).\n",
        "## sqla-partition\n\n```text\n"
        + runner.invoke(main, ["--help"], terminal_width=88, prog_name="sqla-partition").output
        + "```\n",
    ]
    for name in sorted(main.commands):
        text = runner.invoke(
            main, [name, "--help"], terminal_width=88, prog_name="sqla-partition"
        ).output
        parts.append(f"## sqla-partition {name}\n\n```text\n{text}```\n")
    return "\n".join(parts)


def test_the_cli_reference_is_the_commands_own_help():
    page = ROOT / "docs" / "cli.md"
    want = cli_reference()
    if os.environ.get("SQLA_PARTITION_UPDATE_DOCS"):
        page.write_text(want)
    assert page.read_text() == want, "docs/cli.md is out of date: SQLA_PARTITION_UPDATE_DOCS=1"
    assert "Sentinel" not in want and "Exit codes" in want
