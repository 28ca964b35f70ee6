"""Autogenerate on the schemas real applications have: a second autogenerate stays empty."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from sqla_partition.cli import main

from .alembic_project import models_project

MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=2, default=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)


    class Annotation(Base):
        __tablename__ = "event_annotations"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        event_id: Mapped[int] = mapped_column(sa.BigInteger)
        event_created_at = mapped_column(sa.DateTime(timezone=True))
        __table_args__ = (
            sa.ForeignKeyConstraint(
                ["event_id", "event_created_at"], ["events.id", "events.created_at"]
            ),
        )
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "fk_models", MODELS) as p:
        yield p


def test_foreign_keys_to_a_partitioned_table_are_compared_once(project, db_url, pg):
    first = project.revision("first")
    assert "sa.ForeignKeyConstraint(['event_id', 'event_created_at']" in first
    project.upgrade()
    clones = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid <> 0 "
        "AND conrelid = 'event_annotations'::regclass"
    ).fetchone()[0]
    assert clones >= 4  # one per partition of events, DEFAULT included
    project.check()  # nothing to generate: the clones are PostgreSQL's, not the model's
    roll = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--now", "2027-06-01T00:00:00Z"]
    )
    assert roll.exit_code == 0, roll.output
    project.check()  # more partitions, more clones: still nothing


BROKEN = MODELS.replace('Range("created_at", premake=2, default=True)', 'Range("no_such_column")')


def test_mistakes_are_one_line_from_the_alembic_command(tmp_path, db_url, monkeypatch):
    """Alembic prints ``FAILED: <message>`` for errors a user can fix; a declaration mistake
    and an unreachable server must come out that way, never as a traceback."""
    with models_project(tmp_path, db_url, monkeypatch, "broken_models", BROKEN) as project:
        env = {**os.environ, "PYTHONPATH": str(tmp_path), "SQLA_PARTITION_NOW": "2026-11-27"}
        alembic = [str(Path(sys.executable).with_name("alembic")), "-c", str(project.ini)]
        run = subprocess.run(
            [*alembic, "revision", "--autogenerate", "-m", "x"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert run.returncode != 0  # Alembic logs the CommandError as one line
        assert "partition key 'no_such_column' is not a column" in run.stderr
        assert "Traceback" not in run.stderr
        (tmp_path / "broken_models.py").write_text(MODELS)  # fixed: now the server is away
        env["DATABASE_URL"] = "postgresql://u:hunter2@127.0.0.1:1/none"
        run = subprocess.run(
            [*alembic, "upgrade", "head"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert run.returncode != 0 and "cannot reach the database" in run.stderr, run.stderr
        assert "Connection refused" in run.stderr
        assert "Traceback" not in run.stderr and "hunter2" not in run.stderr


def test_binary_input_is_one_line(tmp_path, db_url):
    blob = tmp_path / "blob.sql"
    blob.write_bytes(b"\xff\xfe\x00SELECT")
    linted = CliRunner().invoke(main, ["lint", str(blob)])
    assert linted.exit_code == 2 and "is not UTF-8 text" in linted.output


def test_plain_alembic_operations_run_under_the_lock_timeout_too(project, db_url, tmp_path):
    project.revision("first")
    project.upgrade()
    (project.root / "fk_models.py").write_text(
        MODELS.replace(
            "    event_created_at = mapped_column(sa.DateTime(timezone=True))",
            "    event_created_at = mapped_column(sa.DateTime(timezone=True))\n"
            "    note = mapped_column(sa.Text)",
        )
    )
    import sys as _sys

    _sys.modules.pop("fk_models", None)
    second = project.revision("note")
    assert "op.add_column('event_annotations'" in second
    offline = project.offline_sql()
    assert "SET lock_timeout = 5000" in offline.split("ALTER TABLE event_annotations")[0]
    path = tmp_path / "migration.sql"
    path.write_text(offline)
    linted = CliRunner().invoke(main, ["lint", str(path)])
    assert linted.exit_code == 0, linted.output  # the tool's migrations pass its own lint
    project.upgrade()


PLUGIN_MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from alembic_utils.pg_function import PGFunction
    from alembic_utils.pg_trigger import PGTrigger
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Audit, Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=2, default=True)
        __audit__ = Audit(trail=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(
            sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
        )
        body: Mapped[str] = mapped_column(sa.Text)


    ENTITIES = [
        PGFunction(
            schema="public",
            signature="app_touch()",
            definition="RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        ),
    ]
    if os.environ.get("WITH_TRIGGER"):  # once the table exists (alembic_utils simulates it)
        # the application's own trigger on the partitioned table: PostgreSQL clones it
        # onto every partition, under the same name
        ENTITIES.append(PGTrigger(
            schema="public",
            signature="app_touched",
            on_entity="public.events",
            definition="AFTER INSERT ON public.events FOR EACH ROW "
            "EXECUTE FUNCTION public.app_touch()",
        ))
    """
)


def test_alembic_utils_leaves_our_functions_and_trigger_clones_alone(tmp_path, db_url, monkeypatch):
    pytest.importorskip("alembic_utils")
    from alembic_utils.replaceable_entity import registry

    with (
        models_project(tmp_path, db_url, monkeypatch, "plugin_models", PLUGIN_MODELS) as project,
        contextlib.ExitStack() as stack,
    ):
        stack.callback(registry.clear)  # its registry is process-wide: emptied afterwards
        env = project.root / "migrations" / "env.py"
        env.write_text(
            env.read_text().replace(
                "with one_line_errors():  # a declaration mistake",
                "from alembic_utils.replaceable_entity import register_entities\n"
                "import plugin_models\n"
                "register_entities(plugin_models.ENTITIES)\n\n"
                "with one_line_errors():  # a declaration mistake",
                1,
            )
        )
        # an extension's functions in public are its own, not the application's to drop
        with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        first = project.revision("first")
        assert "app_touch()" in first and "pg_stat_statements" not in first, first
        project.upgrade()
        monkeypatch.setenv("WITH_TRIGGER", "1")
        sys.modules.pop("plugin_models", None)
        second = project.revision("trigger")
        assert "app_touched" in second and "sqla_partition" not in second
        project.upgrade()
        project.check()  # neither our functions nor our triggers are proposed for dropping
        roll = CliRunner().invoke(
            main, ["roll", "--database-url", db_url, "--now", "2027-05-01T00:00:00Z"]
        )
        assert roll.exit_code == 0, roll.output
        project.check()  # nor the triggers PostgreSQL cloned onto the new partitions


def test_a_search_path_that_starts_with_the_applications_schema(tmp_path, db_url, pg, monkeypatch):
    """The tool's tables stay in public, visible behind the application's schema: they are
    not the application's tables, whatever the search_path shows."""
    database = pg.info.dbname
    pg.execute("CREATE SCHEMA app")
    pg.execute(f'ALTER DATABASE "{database}" SET search_path = app, public')
    with models_project(tmp_path, db_url, monkeypatch, "sp_models", PLUGIN_MODELS) as project:
        project.revision("first")
        project.upgrade()
        placed = pg.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname IN ('events', 'sqla_partition_policy') ORDER BY c.relname"
        ).fetchall()
        assert placed == [("app",), ("sqla_partition",)]
        project.check()  # neither the policy table nor the trail is proposed for dropping


GEO_MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from geoalchemy2 import Geometry
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Sighting(Base):
        __tablename__ = "sightings"
        __partitioning__ = Range("seen_at", premake=2)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        seen_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        place = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    """
)


def test_geoalchemy2s_writer_keeps_the_partitioning(tmp_path, db_url, monkeypatch):
    """geoalchemy2's documented ``process_revision_directives=alembic_helpers.writer``
    rewrites every CreateTableOp, subclasses included."""
    pytest.importorskip("geoalchemy2")
    with models_project(tmp_path, db_url, monkeypatch, "geo_models", GEO_MODELS) as project:
        env = project.root / "migrations" / "env.py"
        env.write_text(
            env.read_text().replace(
                '    "compare_type": True,',
                '    "compare_type": True,\n'
                '    "process_revision_directives": __import__(\n'
                '        "geoalchemy2.alembic_helpers", fromlist=["writer"]\n'
                "    ).writer,",
            )
        )
        text = project.revision("sightings")
        assert "op.create_partitioned_table('sightings'" in text, text
        assert "create_geospatial_table" not in text
        assert "op.drop_partitioned_table('sightings'" in text


def test_geoalchemy2s_spatial_index_is_made_once(tmp_path, db_url, pg, monkeypatch):
    """A Geometry column with its default spatial index, geoalchemy2's helpers as its docs
    set them: the migration's own create_geospatial_index makes the index, the table's
    creation does not (it did too: DuplicateTable), and it all reverts."""
    pytest.importorskip("geoalchemy2")
    if not pg.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"
    ).fetchone()[0]:
        pytest.skip("PostGIS is not installed on this server (.ci/run installs it on Debian)")
    pg.execute("CREATE EXTENSION postgis")
    source = GEO_MODELS.replace(", spatial_index=False", "")
    with models_project(tmp_path, db_url, monkeypatch, "geo_index_models", source) as project:
        env = project.root / "migrations" / "env.py"
        helpers = '__import__("geoalchemy2.alembic_helpers", fromlist=["writer"])'
        env.write_text(
            env.read_text().replace(
                '    "compare_type": True,',
                '    "compare_type": True,\n'
                f'    "process_revision_directives": {helpers}.writer,\n'
                f'    "render_item": {helpers}.render_item,\n'
                f'    "include_object": {helpers}.include_object,',
            )
        )
        text = project.revision("sightings")
        assert "op.create_partitioned_table('sightings'" in text
        assert "op.create_geospatial_index('idx_sightings_place'" in text
        project.upgrade()
        indexes = pg.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_sightings_place'"
        ).fetchone()
        assert indexes == (1,)
        project.check()
        project.downgrade("base")
        assert pg.execute("SELECT to_regclass('sightings')").fetchone() == (None,)


APP_MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from alembic_utils.pg_function import PGFunction
    from alembic_utils.pg_view import PGView
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Audit, Hash, Range

    STATUSES = ["active", "closed"] + (["frozen"] if os.environ.get("APP_V2") else [])


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        status = mapped_column(sa.Enum(*STATUSES, name="account_status"), nullable=False)


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range(
            "created_at", premake=2 if not os.environ.get("APP_V2") else 4, default=True
        )
        __audit__ = Audit(trail=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(
            sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
        )
        account_id = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
        payload = mapped_column(sa.dialects.postgresql.JSONB)
        tags = mapped_column(sa.dialects.postgresql.ARRAY(sa.Text))
        if os.environ.get("APP_V2"):
            source = mapped_column(sa.Text, index=True)


    class Annotation(Base):
        __tablename__ = "event_annotations"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        event_id: Mapped[int] = mapped_column(sa.BigInteger)
        event_created_at = mapped_column(sa.DateTime(timezone=True))
        __table_args__ = (
            sa.ForeignKeyConstraint(
                ["event_id", "event_created_at"], ["events.id", "events.created_at"]
            ),
        )


    class Shard(Base):
        __tablename__ = "shards"
        __partitioning__ = Hash("tenant_id", partitions=4)
        tenant_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


    ENTITIES = [
        PGFunction(schema="app", signature="answer()",
                   definition="RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 42 $$"),
    ]
    if os.environ.get("APP_V2"):  # alembic_utils simulates a view: its table must exist
        ENTITIES.append(PGView(schema="app", signature="open_accounts",
                               definition="SELECT id FROM app.accounts WHERE id > 0"))
    """
)


def test_a_realistic_application_beside_three_plugins(tmp_path, db_url, pg, monkeypatch):
    """Foreign keys to and from a partitioned table, an enum, a view and a function managed
    by alembic_utils, alembic-postgresql-enum, JSONB and ARRAY columns, an audited Range
    table and a Hash table, in a schema the search_path puts first: the second autogenerate
    is empty, a change migration is right, and downgrade base / upgrade head are clean."""
    pytest.importorskip("alembic_utils")
    pytest.importorskip("alembic_postgresql_enum")
    from alembic_utils.replaceable_entity import registry

    pg.execute("CREATE SCHEMA app")
    pg.execute(f'ALTER DATABASE "{pg.info.dbname}" SET search_path = app, public')
    with (
        models_project(tmp_path, db_url, monkeypatch, "app_models", APP_MODELS) as project,
        contextlib.ExitStack() as stack,
    ):
        stack.callback(registry.clear)
        env = project.root / "migrations" / "env.py"
        env.write_text(
            env.read_text().replace(
                "with one_line_errors():  # a declaration mistake",
                "import alembic_postgresql_enum  # noqa: F401\n"
                "from alembic_utils.replaceable_entity import register_entities\n"
                "import app_models\n"
                "register_entities(app_models.ENTITIES)\n\n"
                "with one_line_errors():  # a declaration mistake",
                1,
            )
        )
        first = project.revision("app")
        assert "op.create_partitioned_table('events'" in first
        assert "op.create_partitioned_table('shards'" in first
        assert "answer" in first
        project.upgrade()
        project.check()
        pg.execute("INSERT INTO app.accounts VALUES (1, 'active')")
        roll = CliRunner().invoke(
            main, ["roll", "--database-url", db_url, "--now", "2027-03-15T00:00:00Z"]
        )
        assert roll.exit_code == 0, roll.output
        project.check()  # new partitions, new clones of keys and triggers: still nothing

        monkeypatch.setenv("APP_V2", "1")
        sys.modules.pop("app_models", None)
        registry.clear()
        change = project.revision("v2").split("def downgrade")[0]
        assert "frozen" in change  # the enum value, by alembic-postgresql-enum
        assert "open_accounts" in change  # the view, by alembic_utils
        assert "op.add_column('events'" in change
        assert "create_partitioned_index('ix_events_source'" in change  # online, per partition
        assert "op.set_partition_policy('events'" in change and "premake=4" in change
        assert "drop_entity" not in change and "drop_constraint" not in change
        project.upgrade()
        project.check()

        offline = tmp_path / "all.sql"
        offline.write_text(project.offline_sql())
        linted = CliRunner().invoke(main, ["lint", str(offline)])
        assert linted.exit_code == 0, linted.output

        project.downgrade("base")
        left = pg.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'sqla_partition%' "
            "OR relname LIKE 'events%' OR relname LIKE 'shards%' UNION ALL "
            "SELECT proname FROM pg_proc WHERE proname LIKE 'sqla_partition%'"
        ).fetchall()
        assert left == []
        project.upgrade()
        project.check()
