"""The Alembic integration: operations (:mod:`.ops`), what they execute (:mod:`.impl`), how
autogenerate writes them (:mod:`.render`), the comparators that find them
(:mod:`.compare`), and the plugin that registers it all (:mod:`.plugin`)."""
