"""Autogenerate comparators: partitioned tables and their partitions (:mod:`.schema`),
audited tables (:mod:`.audit`), and recommended indexes (:mod:`.indexes`)."""
