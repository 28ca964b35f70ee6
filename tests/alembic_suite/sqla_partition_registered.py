"""A pytest plugin for Alembic's own test suite: it runs with sqla-partition registered
(``.ci/run`` runs Alembic's inspector round-trip test that way)."""

import sqla_partition

sqla_partition.register()
