BEGIN;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 0;

-- no table lock: the trigger below calls it for every write to sessions_h0 until the swap, as the table's owner: writers need no right on the key log, and no other role has one; its search_path is the table's schema, pg_catalog and pg_temp last
DO $do$
DECLARE
  sch text;
BEGIN
  sch := pg_catalog.current_schema();
  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS %L', sch, 'sqla_partition_split_a992a7d11bf9', sch, 'BEGIN
  IF TG_OP <> ''INSERT'' THEN
    INSERT INTO sqla_partition_split_a992a7d11bf9 VALUES (OLD.account_id);
  END IF;
  IF TG_OP <> ''DELETE'' THEN
    INSERT INTO sqla_partition_split_a992a7d11bf9 VALUES (NEW.account_id);
  END IF;
  RETURN NULL;
END');
  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %I.%I() FROM PUBLIC', sch, 'sqla_partition_split_a992a7d11bf9');
END
$do$;

-- SHARE ROW EXCLUSIVE on sessions_h0 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h0_new, sessions_h4 are new and unused; creating the trigger waits for writes to sessions_h0 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 0)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 4)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h0', 0, 4;
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[]
     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) WHERE x.indrelid = 'sessions'::regclass AND x.indisprimary) IS DISTINCT FROM ARRAY['account_id']::text[]
     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'sessions'::regclass AND p.partstrat = 'h') IS DISTINCT FROM 'account_id' THEN
    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ from the ones this migration expects (%; primary key %; hash key %); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token', 'account_id', 'account_id';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h0'::regclass AND tgname = 'sqla_partition_split') AND EXISTS (SELECT 1 FROM unnest(ARRAY['sessions_h0_new', 'sessions_h4', 'sqla_partition_split_a992a7d11bf9']) AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN
        RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists (one of %) but no split is in progress; rename or drop it', 'sessions_h0', 'sessions_h0_new, sessions_h4';
      END IF;
      CREATE TABLE IF NOT EXISTS sqla_partition_split_a992a7d11bf9 AS SELECT account_id FROM ONLY sessions WITH NO DATA;
      CREATE TABLE IF NOT EXISTS sessions_h0_new (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h0_new'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h0_new ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 0, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h0_new'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h0_new', fk.conname, fk.def);
      END LOOP;
      CREATE TABLE IF NOT EXISTS sessions_h4 (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h4'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h4 ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 4, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h4'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h4', fk.conname, fk.def);
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h0'::regclass AND tgname = 'sqla_partition_split') THEN
        CREATE TRIGGER sqla_partition_split AFTER INSERT OR UPDATE OR DELETE ON sessions_h0 FOR EACH ROW EXECUTE FUNCTION sqla_partition_split_a992a7d11bf9();
        -- also for writers with session_replication_role = replica (replication, loaders)
        ALTER TABLE sessions_h0 ENABLE ALWAYS TRIGGER sqla_partition_split;
      END IF;
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$do$;

-- ACCESS SHARE on sessions_h0: reads and writes continue; a row written meanwhile has its key in the log and is copied again from its latest version below; rows already copied are skipped, so a rerun resumes
DO $do$
DECLARE
  lo bigint := 0;
  last_block bigint;
  attempt int;
  started timestamptz;
  worst interval := interval '0';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 0)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 4)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h0', 0, 4;
  END IF;
  last_block := pg_relation_size('sessions_h0'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      started := clock_timestamp();
      BEGIN
        PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
        INSERT INTO sessions_h0_new (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h0 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 0, account_id) ON CONFLICT DO NOTHING;
        INSERT INTO sessions_h4 (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h0 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 4, account_id) ON CONFLICT DO NOTHING;
        worst := greatest(worst, clock_timestamp() - started);
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        worst := greatest(worst, clock_timestamp() - started);
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % into %', 'sessions_h0', 'sessions_h0_new, sessions_h4';
END
$do$;

-- ROW EXCLUSIVE on sessions_h0_new and sessions_h4 and sqla_partition_split_a992a7d11bf9, ACCESS SHARE on sessions_h0: reads and writes continue; the rows written since the copy are copied again from their latest version, in short transactions, then counts and a checksum are compared in one snapshot
DO $do$
DECLARE
  n bigint;
  applied bigint := 0;
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 0)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 4)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h0', 0, 4;
  END IF;
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_a992a7d11bf9);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_a992a7d11bf9 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_a992a7d11bf9 LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h0_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h4 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h0_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 0, c.account_id);
    INSERT INTO sessions_h4 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 4, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  -- keys still in the log are written again under the swap's lock; others must match
  SELECT (SELECT count(*) FROM ONLY sessions_h0 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id))), (SELECT count(*) FROM sessions_h0_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id))) + (SELECT count(*) FROM sessions_h4 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id))),
         (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM ONLY sessions_h0 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id))), (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h0_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id))) + (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h4 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_a992a7d11bf9 AS k WHERE (c.account_id) = (k.account_id)))
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped. Run the migration again: it copies what is missing', 'sessions_h0', old_rows, new_rows;
  END IF;
  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, 'sessions_h0', 'sessions_h0_new, sessions_h4';
END
$do$;

-- ACCESS EXCLUSIVE on sessions and sessions_h0 and sessions_h0_new and sessions_h4 and on the tables its foreign keys reference, ROW EXCLUSIVE on sqla_partition_split_a992a7d11bf9, ROW EXCLUSIVE on sqla_partition_partitions: brief: the detach, the keys written since the last catch-up, and attaches the CHECKs make scan-free (ATTACH replaces the split tables' foreign-key triggers on the referenced tables, hence their lock); each wait is bounded by lock_timeout and half of deadlock_timeout, and retried
-- squawk-ignore require-concurrent-partition-detach
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  n bigint;
  applied bigint := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 0)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 4)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h0', 0, 4;
  END IF;
  -- first catch up once more, outside the lock, so that little is left for it
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_a992a7d11bf9);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_a992a7d11bf9 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_a992a7d11bf9 LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h0_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h4 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h0_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 0, c.account_id);
    INSERT INTO sessions_h4 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 4, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      ALTER TABLE sessions DETACH PARTITION sessions_h0;
      CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_a992a7d11bf9);
      LOOP
        TRUNCATE pg_temp.sqla_partition_keys;
        WITH taken AS (DELETE FROM sqla_partition_split_a992a7d11bf9 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_a992a7d11bf9 LIMIT 10000)) RETURNING *),
             kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
        SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
        EXIT WHEN n = 0;
        applied := applied + n;
        ANALYZE pg_temp.sqla_partition_keys;
        DELETE FROM sessions_h0_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        DELETE FROM sessions_h4 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        INSERT INTO sessions_h0_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 0, c.account_id);
        INSERT INTO sessions_h4 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h0 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 4, c.account_id);
      END LOOP;
      DROP TRIGGER sqla_partition_split ON sessions_h0;
      ALTER TABLE sessions_h0 RENAME TO sessions_h0_old;
      COMMENT ON TABLE sessions_h0_old IS 'sqla-partition: split and verified';
      ALTER TABLE sessions_h0_new RENAME TO sessions_h0;
      ALTER TABLE sessions ATTACH PARTITION sessions_h0 FOR VALUES WITH (MODULUS 8, REMAINDER 0);
      ALTER TABLE sessions_h0 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h4 FOR VALUES WITH (MODULUS 8, REMAINDER 4);
      ALTER TABLE sessions_h4 DROP CONSTRAINT sqla_partition_hash;
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h0', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h4', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at most % ms, lock waits included, after % lock timeouts', 'sessions_h0', 'sessions_h0, sessions_h4', round(extract(epoch FROM worst) * 1000), attempt;
END
$do$;

-- ACCESS EXCLUSIVE on sessions_h0_old: sessions_h0_old is the old partition: its rows were verified in the split tables, and only a detached table the swap marked is dropped
DO $do$
BEGIN
  IF obj_description(to_regclass('sessions_h0_old'), 'pg_class') = 'sqla-partition: split and verified' AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h0_old')) THEN
    DROP TABLE sessions_h0_old;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_split_a992a7d11bf9: the split's key log, empty since the swap
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS sqla_partition_split_a992a7d11bf9;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_a992a7d11bf9();

-- no table lock: the trigger below calls it for every write to sessions_h1 until the swap, as the table's owner: writers need no right on the key log, and no other role has one; its search_path is the table's schema, pg_catalog and pg_temp last
DO $do$
DECLARE
  sch text;
BEGIN
  sch := pg_catalog.current_schema();
  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS %L', sch, 'sqla_partition_split_e21773a32c9f', sch, 'BEGIN
  IF TG_OP <> ''INSERT'' THEN
    INSERT INTO sqla_partition_split_e21773a32c9f VALUES (OLD.account_id);
  END IF;
  IF TG_OP <> ''DELETE'' THEN
    INSERT INTO sqla_partition_split_e21773a32c9f VALUES (NEW.account_id);
  END IF;
  RETURN NULL;
END');
  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %I.%I() FROM PUBLIC', sch, 'sqla_partition_split_e21773a32c9f');
END
$do$;

-- SHARE ROW EXCLUSIVE on sessions_h1 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h1_new, sessions_h5 are new and unused; creating the trigger waits for writes to sessions_h1 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 1)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 5)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h1', 1, 4;
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[]
     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) WHERE x.indrelid = 'sessions'::regclass AND x.indisprimary) IS DISTINCT FROM ARRAY['account_id']::text[]
     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'sessions'::regclass AND p.partstrat = 'h') IS DISTINCT FROM 'account_id' THEN
    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ from the ones this migration expects (%; primary key %; hash key %); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token', 'account_id', 'account_id';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h1'::regclass AND tgname = 'sqla_partition_split') AND EXISTS (SELECT 1 FROM unnest(ARRAY['sessions_h1_new', 'sessions_h5', 'sqla_partition_split_e21773a32c9f']) AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN
        RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists (one of %) but no split is in progress; rename or drop it', 'sessions_h1', 'sessions_h1_new, sessions_h5';
      END IF;
      CREATE TABLE IF NOT EXISTS sqla_partition_split_e21773a32c9f AS SELECT account_id FROM ONLY sessions WITH NO DATA;
      CREATE TABLE IF NOT EXISTS sessions_h1_new (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h1_new'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h1_new ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 1, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h1_new'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h1_new', fk.conname, fk.def);
      END LOOP;
      CREATE TABLE IF NOT EXISTS sessions_h5 (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h5'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h5 ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 5, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h5'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h5', fk.conname, fk.def);
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h1'::regclass AND tgname = 'sqla_partition_split') THEN
        CREATE TRIGGER sqla_partition_split AFTER INSERT OR UPDATE OR DELETE ON sessions_h1 FOR EACH ROW EXECUTE FUNCTION sqla_partition_split_e21773a32c9f();
        -- also for writers with session_replication_role = replica (replication, loaders)
        ALTER TABLE sessions_h1 ENABLE ALWAYS TRIGGER sqla_partition_split;
      END IF;
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$do$;

-- ACCESS SHARE on sessions_h1: reads and writes continue; a row written meanwhile has its key in the log and is copied again from its latest version below; rows already copied are skipped, so a rerun resumes
DO $do$
DECLARE
  lo bigint := 0;
  last_block bigint;
  attempt int;
  started timestamptz;
  worst interval := interval '0';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 1)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 5)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h1', 1, 4;
  END IF;
  last_block := pg_relation_size('sessions_h1'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      started := clock_timestamp();
      BEGIN
        PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
        INSERT INTO sessions_h1_new (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h1 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 1, account_id) ON CONFLICT DO NOTHING;
        INSERT INTO sessions_h5 (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h1 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 5, account_id) ON CONFLICT DO NOTHING;
        worst := greatest(worst, clock_timestamp() - started);
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        worst := greatest(worst, clock_timestamp() - started);
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % into %', 'sessions_h1', 'sessions_h1_new, sessions_h5';
END
$do$;

-- ROW EXCLUSIVE on sessions_h1_new and sessions_h5 and sqla_partition_split_e21773a32c9f, ACCESS SHARE on sessions_h1: reads and writes continue; the rows written since the copy are copied again from their latest version, in short transactions, then counts and a checksum are compared in one snapshot
DO $do$
DECLARE
  n bigint;
  applied bigint := 0;
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 1)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 5)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h1', 1, 4;
  END IF;
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_e21773a32c9f);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_e21773a32c9f WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_e21773a32c9f LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h1_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h5 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h1_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 1, c.account_id);
    INSERT INTO sessions_h5 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 5, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  -- keys still in the log are written again under the swap's lock; others must match
  SELECT (SELECT count(*) FROM ONLY sessions_h1 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id))), (SELECT count(*) FROM sessions_h1_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id))) + (SELECT count(*) FROM sessions_h5 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id))),
         (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM ONLY sessions_h1 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id))), (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h1_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id))) + (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h5 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_e21773a32c9f AS k WHERE (c.account_id) = (k.account_id)))
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped. Run the migration again: it copies what is missing', 'sessions_h1', old_rows, new_rows;
  END IF;
  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, 'sessions_h1', 'sessions_h1_new, sessions_h5';
END
$do$;

-- ACCESS EXCLUSIVE on sessions and sessions_h1 and sessions_h1_new and sessions_h5 and on the tables its foreign keys reference, ROW EXCLUSIVE on sqla_partition_split_e21773a32c9f, ROW EXCLUSIVE on sqla_partition_partitions: brief: the detach, the keys written since the last catch-up, and attaches the CHECKs make scan-free (ATTACH replaces the split tables' foreign-key triggers on the referenced tables, hence their lock); each wait is bounded by lock_timeout and half of deadlock_timeout, and retried
-- squawk-ignore require-concurrent-partition-detach
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  n bigint;
  applied bigint := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 1)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 5)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h1', 1, 4;
  END IF;
  -- first catch up once more, outside the lock, so that little is left for it
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_e21773a32c9f);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_e21773a32c9f WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_e21773a32c9f LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h1_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h5 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h1_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 1, c.account_id);
    INSERT INTO sessions_h5 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 5, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      ALTER TABLE sessions DETACH PARTITION sessions_h1;
      CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_e21773a32c9f);
      LOOP
        TRUNCATE pg_temp.sqla_partition_keys;
        WITH taken AS (DELETE FROM sqla_partition_split_e21773a32c9f WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_e21773a32c9f LIMIT 10000)) RETURNING *),
             kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
        SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
        EXIT WHEN n = 0;
        applied := applied + n;
        ANALYZE pg_temp.sqla_partition_keys;
        DELETE FROM sessions_h1_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        DELETE FROM sessions_h5 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        INSERT INTO sessions_h1_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 1, c.account_id);
        INSERT INTO sessions_h5 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h1 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 5, c.account_id);
      END LOOP;
      DROP TRIGGER sqla_partition_split ON sessions_h1;
      ALTER TABLE sessions_h1 RENAME TO sessions_h1_old;
      COMMENT ON TABLE sessions_h1_old IS 'sqla-partition: split and verified';
      ALTER TABLE sessions_h1_new RENAME TO sessions_h1;
      ALTER TABLE sessions ATTACH PARTITION sessions_h1 FOR VALUES WITH (MODULUS 8, REMAINDER 1);
      ALTER TABLE sessions_h1 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h5 FOR VALUES WITH (MODULUS 8, REMAINDER 5);
      ALTER TABLE sessions_h5 DROP CONSTRAINT sqla_partition_hash;
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h1', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h5', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at most % ms, lock waits included, after % lock timeouts', 'sessions_h1', 'sessions_h1, sessions_h5', round(extract(epoch FROM worst) * 1000), attempt;
END
$do$;

-- ACCESS EXCLUSIVE on sessions_h1_old: sessions_h1_old is the old partition: its rows were verified in the split tables, and only a detached table the swap marked is dropped
DO $do$
BEGIN
  IF obj_description(to_regclass('sessions_h1_old'), 'pg_class') = 'sqla-partition: split and verified' AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h1_old')) THEN
    DROP TABLE sessions_h1_old;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_split_e21773a32c9f: the split's key log, empty since the swap
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS sqla_partition_split_e21773a32c9f;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_e21773a32c9f();

-- no table lock: the trigger below calls it for every write to sessions_h2 until the swap, as the table's owner: writers need no right on the key log, and no other role has one; its search_path is the table's schema, pg_catalog and pg_temp last
DO $do$
DECLARE
  sch text;
BEGIN
  sch := pg_catalog.current_schema();
  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS %L', sch, 'sqla_partition_split_26c7547bd9f5', sch, 'BEGIN
  IF TG_OP <> ''INSERT'' THEN
    INSERT INTO sqla_partition_split_26c7547bd9f5 VALUES (OLD.account_id);
  END IF;
  IF TG_OP <> ''DELETE'' THEN
    INSERT INTO sqla_partition_split_26c7547bd9f5 VALUES (NEW.account_id);
  END IF;
  RETURN NULL;
END');
  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %I.%I() FROM PUBLIC', sch, 'sqla_partition_split_26c7547bd9f5');
END
$do$;

-- SHARE ROW EXCLUSIVE on sessions_h2 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h2_new, sessions_h6 are new and unused; creating the trigger waits for writes to sessions_h2 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 2)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 6)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h2', 2, 4;
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[]
     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) WHERE x.indrelid = 'sessions'::regclass AND x.indisprimary) IS DISTINCT FROM ARRAY['account_id']::text[]
     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'sessions'::regclass AND p.partstrat = 'h') IS DISTINCT FROM 'account_id' THEN
    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ from the ones this migration expects (%; primary key %; hash key %); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token', 'account_id', 'account_id';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h2'::regclass AND tgname = 'sqla_partition_split') AND EXISTS (SELECT 1 FROM unnest(ARRAY['sessions_h2_new', 'sessions_h6', 'sqla_partition_split_26c7547bd9f5']) AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN
        RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists (one of %) but no split is in progress; rename or drop it', 'sessions_h2', 'sessions_h2_new, sessions_h6';
      END IF;
      CREATE TABLE IF NOT EXISTS sqla_partition_split_26c7547bd9f5 AS SELECT account_id FROM ONLY sessions WITH NO DATA;
      CREATE TABLE IF NOT EXISTS sessions_h2_new (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h2_new'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h2_new ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 2, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h2_new'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h2_new', fk.conname, fk.def);
      END LOOP;
      CREATE TABLE IF NOT EXISTS sessions_h6 (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h6'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h6 ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 6, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h6'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h6', fk.conname, fk.def);
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h2'::regclass AND tgname = 'sqla_partition_split') THEN
        CREATE TRIGGER sqla_partition_split AFTER INSERT OR UPDATE OR DELETE ON sessions_h2 FOR EACH ROW EXECUTE FUNCTION sqla_partition_split_26c7547bd9f5();
        -- also for writers with session_replication_role = replica (replication, loaders)
        ALTER TABLE sessions_h2 ENABLE ALWAYS TRIGGER sqla_partition_split;
      END IF;
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$do$;

-- ACCESS SHARE on sessions_h2: reads and writes continue; a row written meanwhile has its key in the log and is copied again from its latest version below; rows already copied are skipped, so a rerun resumes
DO $do$
DECLARE
  lo bigint := 0;
  last_block bigint;
  attempt int;
  started timestamptz;
  worst interval := interval '0';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 2)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 6)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h2', 2, 4;
  END IF;
  last_block := pg_relation_size('sessions_h2'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      started := clock_timestamp();
      BEGIN
        PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
        INSERT INTO sessions_h2_new (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h2 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 2, account_id) ON CONFLICT DO NOTHING;
        INSERT INTO sessions_h6 (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h2 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 6, account_id) ON CONFLICT DO NOTHING;
        worst := greatest(worst, clock_timestamp() - started);
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        worst := greatest(worst, clock_timestamp() - started);
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % into %', 'sessions_h2', 'sessions_h2_new, sessions_h6';
END
$do$;

-- ROW EXCLUSIVE on sessions_h2_new and sessions_h6 and sqla_partition_split_26c7547bd9f5, ACCESS SHARE on sessions_h2: reads and writes continue; the rows written since the copy are copied again from their latest version, in short transactions, then counts and a checksum are compared in one snapshot
DO $do$
DECLARE
  n bigint;
  applied bigint := 0;
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 2)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 6)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h2', 2, 4;
  END IF;
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_26c7547bd9f5);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_26c7547bd9f5 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_26c7547bd9f5 LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h2_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h6 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h2_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 2, c.account_id);
    INSERT INTO sessions_h6 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 6, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  -- keys still in the log are written again under the swap's lock; others must match
  SELECT (SELECT count(*) FROM ONLY sessions_h2 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id))), (SELECT count(*) FROM sessions_h2_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id))) + (SELECT count(*) FROM sessions_h6 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id))),
         (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM ONLY sessions_h2 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id))), (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h2_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id))) + (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h6 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_26c7547bd9f5 AS k WHERE (c.account_id) = (k.account_id)))
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped. Run the migration again: it copies what is missing', 'sessions_h2', old_rows, new_rows;
  END IF;
  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, 'sessions_h2', 'sessions_h2_new, sessions_h6';
END
$do$;

-- ACCESS EXCLUSIVE on sessions and sessions_h2 and sessions_h2_new and sessions_h6 and on the tables its foreign keys reference, ROW EXCLUSIVE on sqla_partition_split_26c7547bd9f5, ROW EXCLUSIVE on sqla_partition_partitions: brief: the detach, the keys written since the last catch-up, and attaches the CHECKs make scan-free (ATTACH replaces the split tables' foreign-key triggers on the referenced tables, hence their lock); each wait is bounded by lock_timeout and half of deadlock_timeout, and retried
-- squawk-ignore require-concurrent-partition-detach
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  n bigint;
  applied bigint := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 2)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 6)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h2', 2, 4;
  END IF;
  -- first catch up once more, outside the lock, so that little is left for it
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_26c7547bd9f5);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_26c7547bd9f5 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_26c7547bd9f5 LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h2_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h6 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h2_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 2, c.account_id);
    INSERT INTO sessions_h6 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 6, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      ALTER TABLE sessions DETACH PARTITION sessions_h2;
      CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_26c7547bd9f5);
      LOOP
        TRUNCATE pg_temp.sqla_partition_keys;
        WITH taken AS (DELETE FROM sqla_partition_split_26c7547bd9f5 WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_26c7547bd9f5 LIMIT 10000)) RETURNING *),
             kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
        SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
        EXIT WHEN n = 0;
        applied := applied + n;
        ANALYZE pg_temp.sqla_partition_keys;
        DELETE FROM sessions_h2_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        DELETE FROM sessions_h6 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        INSERT INTO sessions_h2_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 2, c.account_id);
        INSERT INTO sessions_h6 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h2 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 6, c.account_id);
      END LOOP;
      DROP TRIGGER sqla_partition_split ON sessions_h2;
      ALTER TABLE sessions_h2 RENAME TO sessions_h2_old;
      COMMENT ON TABLE sessions_h2_old IS 'sqla-partition: split and verified';
      ALTER TABLE sessions_h2_new RENAME TO sessions_h2;
      ALTER TABLE sessions ATTACH PARTITION sessions_h2 FOR VALUES WITH (MODULUS 8, REMAINDER 2);
      ALTER TABLE sessions_h2 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h6 FOR VALUES WITH (MODULUS 8, REMAINDER 6);
      ALTER TABLE sessions_h6 DROP CONSTRAINT sqla_partition_hash;
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h2', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h6', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at most % ms, lock waits included, after % lock timeouts', 'sessions_h2', 'sessions_h2, sessions_h6', round(extract(epoch FROM worst) * 1000), attempt;
END
$do$;

-- ACCESS EXCLUSIVE on sessions_h2_old: sessions_h2_old is the old partition: its rows were verified in the split tables, and only a detached table the swap marked is dropped
DO $do$
BEGIN
  IF obj_description(to_regclass('sessions_h2_old'), 'pg_class') = 'sqla-partition: split and verified' AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h2_old')) THEN
    DROP TABLE sessions_h2_old;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_split_26c7547bd9f5: the split's key log, empty since the swap
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS sqla_partition_split_26c7547bd9f5;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_26c7547bd9f5();

-- no table lock: the trigger below calls it for every write to sessions_h3 until the swap, as the table's owner: writers need no right on the key log, and no other role has one; its search_path is the table's schema, pg_catalog and pg_temp last
DO $do$
DECLARE
  sch text;
BEGIN
  sch := pg_catalog.current_schema();
  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS %L', sch, 'sqla_partition_split_68c9400af59a', sch, 'BEGIN
  IF TG_OP <> ''INSERT'' THEN
    INSERT INTO sqla_partition_split_68c9400af59a VALUES (OLD.account_id);
  END IF;
  IF TG_OP <> ''DELETE'' THEN
    INSERT INTO sqla_partition_split_68c9400af59a VALUES (NEW.account_id);
  END IF;
  RETURN NULL;
END');
  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %I.%I() FROM PUBLIC', sch, 'sqla_partition_split_68c9400af59a');
END
$do$;

-- SHARE ROW EXCLUSIVE on sessions_h3 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h3_new, sessions_h7 are new and unused; creating the trigger waits for writes to sessions_h3 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 3)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 7)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h3', 3, 4;
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[]
     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) WHERE x.indrelid = 'sessions'::regclass AND x.indisprimary) IS DISTINCT FROM ARRAY['account_id']::text[]
     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'sessions'::regclass AND p.partstrat = 'h') IS DISTINCT FROM 'account_id' THEN
    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ from the ones this migration expects (%; primary key %; hash key %); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token', 'account_id', 'account_id';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h3'::regclass AND tgname = 'sqla_partition_split') AND EXISTS (SELECT 1 FROM unnest(ARRAY['sessions_h3_new', 'sessions_h7', 'sqla_partition_split_68c9400af59a']) AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN
        RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists (one of %) but no split is in progress; rename or drop it', 'sessions_h3', 'sessions_h3_new, sessions_h7';
      END IF;
      CREATE TABLE IF NOT EXISTS sqla_partition_split_68c9400af59a AS SELECT account_id FROM ONLY sessions WITH NO DATA;
      CREATE TABLE IF NOT EXISTS sessions_h3_new (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h3_new'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h3_new ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 3, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h3_new'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h3_new', fk.conname, fk.def);
      END LOOP;
      CREATE TABLE IF NOT EXISTS sessions_h7 (LIKE sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'sessions_h7'::regclass AND conname = 'sqla_partition_hash') THEN
        ALTER TABLE sessions_h7 ADD CONSTRAINT sqla_partition_hash CHECK (satisfies_hash_partition('sessions'::regclass, 8, 7, account_id));
      END IF;
      FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = 'sessions'::regclass AND c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = 'sessions_h7'::regclass AND x.conname = c.conname) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'sessions_h7', fk.conname, fk.def);
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions_h3'::regclass AND tgname = 'sqla_partition_split') THEN
        CREATE TRIGGER sqla_partition_split AFTER INSERT OR UPDATE OR DELETE ON sessions_h3 FOR EACH ROW EXECUTE FUNCTION sqla_partition_split_68c9400af59a();
        -- also for writers with session_replication_role = replica (replication, loaders)
        ALTER TABLE sessions_h3 ENABLE ALWAYS TRIGGER sqla_partition_split;
      END IF;
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$do$;

-- ACCESS SHARE on sessions_h3: reads and writes continue; a row written meanwhile has its key in the log and is copied again from its latest version below; rows already copied are skipped, so a rerun resumes
DO $do$
DECLARE
  lo bigint := 0;
  last_block bigint;
  attempt int;
  started timestamptz;
  worst interval := interval '0';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 3)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 7)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h3', 3, 4;
  END IF;
  last_block := pg_relation_size('sessions_h3'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      started := clock_timestamp();
      BEGIN
        PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
        INSERT INTO sessions_h3_new (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h3 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 3, account_id) ON CONFLICT DO NOTHING;
        INSERT INTO sessions_h7 (account_id, started_at, token) SELECT account_id, started_at, token FROM ONLY sessions_h3 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid AND satisfies_hash_partition('sessions'::regclass, 8, 7, account_id) ON CONFLICT DO NOTHING;
        worst := greatest(worst, clock_timestamp() - started);
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        worst := greatest(worst, clock_timestamp() - started);
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % into %', 'sessions_h3', 'sessions_h3_new, sessions_h7';
END
$do$;

-- ROW EXCLUSIVE on sessions_h3_new and sessions_h7 and sqla_partition_split_68c9400af59a, ACCESS SHARE on sessions_h3: reads and writes continue; the rows written since the copy are copied again from their latest version, in short transactions, then counts and a checksum are compared in one snapshot
DO $do$
DECLARE
  n bigint;
  applied bigint := 0;
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 3)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 7)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h3', 3, 4;
  END IF;
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_68c9400af59a);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_68c9400af59a WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_68c9400af59a LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h3_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h7 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h3_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 3, c.account_id);
    INSERT INTO sessions_h7 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 7, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  -- keys still in the log are written again under the swap's lock; others must match
  SELECT (SELECT count(*) FROM ONLY sessions_h3 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id))), (SELECT count(*) FROM sessions_h3_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id))) + (SELECT count(*) FROM sessions_h7 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id))),
         (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM ONLY sessions_h3 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id))), (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h3_new AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id))) + (SELECT coalesce(sum(hashtext(ROW(c.account_id, c.started_at, c.token)::text)), 0) FROM sessions_h7 AS c WHERE NOT EXISTS (SELECT 1 FROM sqla_partition_split_68c9400af59a AS k WHERE (c.account_id) = (k.account_id)))
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped. Run the migration again: it copies what is missing', 'sessions_h3', old_rows, new_rows;
  END IF;
  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, 'sessions_h3', 'sessions_h3_new, sessions_h7';
END
$do$;

-- ACCESS EXCLUSIVE on sessions and sessions_h3 and sessions_h3_new and sessions_h7 and on the tables its foreign keys reference, ROW EXCLUSIVE on sqla_partition_split_68c9400af59a, ROW EXCLUSIVE on sqla_partition_partitions: brief: the detach, the keys written since the last catch-up, and attaches the CHECKs make scan-free (ATTACH replaces the split tables' foreign-key triggers on the referenced tables, hence their lock); each wait is bounded by lock_timeout and half of deadlock_timeout, and retried
-- squawk-ignore require-concurrent-partition-detach
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  n bigint;
  applied bigint := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 3)') AND EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 8, remainder 7)') THEN
      RETURN;  -- split already
    END IF;
    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and none for its split; the table is not as this migration expects, nothing was changed', 'sessions', 'sessions_h3', 3, 4;
  END IF;
  -- first catch up once more, outside the lock, so that little is left for it
  CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_68c9400af59a);
  LOOP
    TRUNCATE pg_temp.sqla_partition_keys;
    WITH taken AS (DELETE FROM sqla_partition_split_68c9400af59a WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_68c9400af59a LIMIT 10000)) RETURNING *),
         kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
    SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
    EXIT WHEN n = 0;
    applied := applied + n;
    ANALYZE pg_temp.sqla_partition_keys;
    DELETE FROM sessions_h3_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    DELETE FROM sessions_h7 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
    INSERT INTO sessions_h3_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 3, c.account_id);
    INSERT INTO sessions_h7 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 7, c.account_id);
    COMMIT;
    EXIT WHEN n < 10000;
  END LOOP;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      ALTER TABLE sessions DETACH PARTITION sessions_h3;
      CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE sqla_partition_split_68c9400af59a);
      LOOP
        TRUNCATE pg_temp.sqla_partition_keys;
        WITH taken AS (DELETE FROM sqla_partition_split_68c9400af59a WHERE ctid = ANY (ARRAY(SELECT ctid FROM sqla_partition_split_68c9400af59a LIMIT 10000)) RETURNING *),
             kept AS (INSERT INTO pg_temp.sqla_partition_keys SELECT DISTINCT * FROM taken)
        SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats
        EXIT WHEN n = 0;
        applied := applied + n;
        ANALYZE pg_temp.sqla_partition_keys;
        DELETE FROM sessions_h3_new AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        DELETE FROM sessions_h7 AS t USING pg_temp.sqla_partition_keys AS k WHERE (t.account_id) = (k.account_id);
        INSERT INTO sessions_h3_new (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 3, c.account_id);
        INSERT INTO sessions_h7 (account_id, started_at, token) SELECT c.account_id, c.started_at, c.token FROM ONLY sessions_h3 AS c JOIN pg_temp.sqla_partition_keys AS k ON (c.account_id) = (k.account_id) WHERE satisfies_hash_partition('sessions'::regclass, 8, 7, c.account_id);
      END LOOP;
      DROP TRIGGER sqla_partition_split ON sessions_h3;
      ALTER TABLE sessions_h3 RENAME TO sessions_h3_old;
      COMMENT ON TABLE sessions_h3_old IS 'sqla-partition: split and verified';
      ALTER TABLE sessions_h3_new RENAME TO sessions_h3;
      ALTER TABLE sessions ATTACH PARTITION sessions_h3 FOR VALUES WITH (MODULUS 8, REMAINDER 3);
      ALTER TABLE sessions_h3 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h7 FOR VALUES WITH (MODULUS 8, REMAINDER 7);
      ALTER TABLE sessions_h7 DROP CONSTRAINT sqla_partition_hash;
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h3', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'sessions_h7', current_schema(), 'sessions', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at most % ms, lock waits included, after % lock timeouts', 'sessions_h3', 'sessions_h3, sessions_h7', round(extract(epoch FROM worst) * 1000), attempt;
END
$do$;

-- ACCESS EXCLUSIVE on sessions_h3_old: sessions_h3_old is the old partition: its rows were verified in the split tables, and only a detached table the swap marked is dropped
DO $do$
BEGIN
  IF obj_description(to_regclass('sessions_h3_old'), 'pg_class') = 'sqla-partition: split and verified' AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h3_old')) THEN
    DROP TABLE sessions_h3_old;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_split_68c9400af59a: the split's key log, empty since the swap
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS sqla_partition_split_68c9400af59a;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_68c9400af59a();

-- no table lock: the policy below is recorded only once the split is complete
DO $do$
BEGIN
  IF (SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES WITH (modulus 8, %') <> 8 THEN
    RAISE EXCEPTION 'sqla-partition: % does not have its % hash partitions yet; its recorded policy is left as it was, run the migration again', 'sessions', 8;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_policy (only when it is new): records each table's policy so that roll needs only a database URL
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE TABLE IF NOT EXISTS sqla_partition.sqla_partition_policy (schema_name text NOT NULL, table_name text NOT NULL, policy jsonb NOT NULL, key_type text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), rolled_at timestamptz, PRIMARY KEY (schema_name, table_name));
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_roll_keys (only when it is new): the key of each table's roll lock, shown only to roles that may roll the table
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF pg_catalog.to_regclass('sqla_partition.sqla_partition_roll_keys') IS NULL THEN
    CREATE TABLE sqla_partition.sqla_partition_roll_keys (schema_name text NOT NULL, table_name text NOT NULL, key integer NOT NULL, PRIMARY KEY (schema_name, table_name));
    ALTER TABLE sqla_partition.sqla_partition_roll_keys ENABLE ROW LEVEL SECURITY;
    ALTER TABLE sqla_partition.sqla_partition_roll_keys FORCE ROW LEVEL SECURITY;
    CREATE POLICY sqla_partition_members ON sqla_partition.sqla_partition_roll_keys USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = schema_name AND c.relname = table_name), 'MEMBER'));
    REVOKE ALL ON TABLE sqla_partition.sqla_partition_roll_keys FROM PUBLIC;
    GRANT SELECT, INSERT, UPDATE ON TABLE sqla_partition.sqla_partition_roll_keys TO PUBLIC;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_partitions (only when it is new): records the partitions sqla-partition made, so that it never trusts a table for its name alone
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE TABLE IF NOT EXISTS sqla_partition.sqla_partition_partitions (partition_schema text NOT NULL, partition_name text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL, lower_bound text, upper_bound text, state text NOT NULL CHECK (state IN ('attached', 'detached')), created_at timestamptz NOT NULL DEFAULT now(), detached_at timestamptz, PRIMARY KEY (partition_schema, partition_name));
END
$do$;

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'sessions', '{"colocate_with": null, "column": "account_id", "distributed": null, "kind": "hash", "partition_prefix": null, "partitions": 8}'::jsonb, 'hash') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

COMMIT;

