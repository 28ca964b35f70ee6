BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- SHARE on events: brief: ON ONLY builds nothing (a partitioned table has no rows of its own); the index stays invalid until every partition's index is attached below
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS ix_events_account_id ON ONLY events (account_id);

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 0;

-- SHARE UPDATE EXCLUSIVE on events_p2026_12: reads and writes continue while the index is built; PostgreSQL runs it outside a transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_p2026_12_account_id_idx ON events_p2026_12 (account_id);

-- ACCESS SHARE on events and events_p2026_12, ACCESS EXCLUSIVE on events_p2026_12_account_id_idx (an index): catalog work only, the index is built: reads and writes continue; queries that would use the new index wait for a moment, bounded by lock_timeout
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'ix_events_account_id'::regclass AND inhrelid = 'events_p2026_12_account_id_idx'::regclass) THEN
    ALTER INDEX ix_events_account_id ATTACH PARTITION events_p2026_12_account_id_idx;
  END IF;
END
$do$;

-- SHARE UPDATE EXCLUSIVE on events_p2026_11: reads and writes continue while the index is built; PostgreSQL runs it outside a transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_p2026_11_account_id_idx ON events_p2026_11 (account_id);

-- ACCESS SHARE on events and events_p2026_11, ACCESS EXCLUSIVE on events_p2026_11_account_id_idx (an index): catalog work only, the index is built: reads and writes continue; queries that would use the new index wait for a moment, bounded by lock_timeout
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'ix_events_account_id'::regclass AND inhrelid = 'events_p2026_11_account_id_idx'::regclass) THEN
    ALTER INDEX ix_events_account_id ATTACH PARTITION events_p2026_11_account_id_idx;
  END IF;
END
$do$;

-- SHARE UPDATE EXCLUSIVE on events_default: reads and writes continue while the index is built; PostgreSQL runs it outside a transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_default_account_id_idx ON events_default (account_id);

-- ACCESS SHARE on events and events_default, ACCESS EXCLUSIVE on events_default_account_id_idx (an index): catalog work only, the index is built: reads and writes continue; queries that would use the new index wait for a moment, bounded by lock_timeout
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'ix_events_account_id'::regclass AND inhrelid = 'events_default_account_id_idx'::regclass) THEN
    ALTER INDEX ix_events_account_id ATTACH PARTITION events_default_account_id_idx;
  END IF;
END
$do$;

-- no table lock: the index is valid once every partition's index is attached
DO $do$
BEGIN
  IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_events_account_id'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: index % is not valid yet: partitions % have no index attached; run the migration again to build them', 'ix_events_account_id', (
      SELECT string_agg(c.relname, ', ') FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = (SELECT indrelid FROM pg_index WHERE indexrelid = 'ix_events_account_id'::regclass)
         AND NOT EXISTS (SELECT 1 FROM pg_inherits x JOIN pg_index p ON p.indexrelid = x.inhrelid
                          WHERE x.inhparent = 'ix_events_account_id'::regclass AND p.indrelid = c.oid));
  END IF;
END
$do$;

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

COMMIT;

