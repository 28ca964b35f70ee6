BEGIN;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 0;

-- no table lock: the trigger below calls it for every write to sessions_h0 until the swap; it runs as the owner of the split tables, whoever writes, and finds names as this migration does
CREATE OR REPLACE FUNCTION sqla_partition_split_a992a7d11bf9() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM sessions_h0_new WHERE (account_id) = (OLD.account_id);
    DELETE FROM sessions_h4 WHERE (account_id) = (OLD.account_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF satisfies_hash_partition('sessions'::regclass, 8, 0, NEW.account_id) THEN
      INSERT INTO sessions_h0_new (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    ELSE
      INSERT INTO sessions_h4 (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

-- SHARE ROW EXCLUSIVE on sessions_h0 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h0_new, sessions_h4 are new and unused; creating the trigger waits for writes to sessions_h0 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $split$
DECLARE
  attempt int;
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    RETURN;  -- split already
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[] THEN
    RAISE EXCEPTION 'sqla-partition: the columns of % differ from the ones this migration copies (%); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
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
      END IF;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$split$;

-- ROW SHARE on sessions_h0 (FOR KEY SHARE on the rows of one batch): reads and writes continue; deletes of rows in the batch being copied wait for it (milliseconds); writes from now on reach the split tables through the trigger; rows already copied are skipped, so a rerun resumes
DO $split$
DECLARE
  lo bigint := 0;
  last_block bigint;
  n bigint;
  copied bigint := 0;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    RETURN;
  END IF;
  last_block := pg_relation_size('sessions_h0'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      BEGIN
        PERFORM set_config('lock_timeout', '5000', true);
        WITH batch AS (SELECT account_id, started_at, token FROM ONLY sessions_h0 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid FOR KEY SHARE),
        t0 AS (INSERT INTO sessions_h0_new (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 0, account_id) ON CONFLICT DO NOTHING RETURNING 1),
        t1 AS (INSERT INTO sessions_h4 (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 4, account_id) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) INTO n;
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    copied := copied + n;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % rows of % into %', copied, 'sessions_h0', 'sessions_h0_new, sessions_h4';
END
$split$;

-- ACCESS EXCLUSIVE on sessions and sessions_h0 and sessions_h0_new and sessions_h4: the copy is verified first without locks (counts and a checksum, one snapshot); the exclusive part is the detach and attaches only, which the CHECKs make scan-free; lock_timeout bounds each wait, retried
-- squawk-ignore require-concurrent-partition-detach
DO $split$
DECLARE
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
  started timestamptz;
  held interval;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h0') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 0)') THEN
    RETURN;
  END IF;
  SELECT (SELECT count(*) FROM ONLY sessions_h0), (SELECT count(*) FROM sessions_h0_new) + (SELECT count(*) FROM sessions_h4), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM ONLY sessions_h0), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h0_new) + (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h4)
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped, run the migration again to resume', 'sessions_h0', old_rows, new_rows;
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
      started := clock_timestamp();
      ALTER TABLE sessions DETACH PARTITION sessions_h0;
      DROP TRIGGER sqla_partition_split ON sessions_h0;
      ALTER TABLE sessions_h0 RENAME TO sessions_h0_old;
      ALTER TABLE sessions_h0_new RENAME TO sessions_h0;
      ALTER TABLE sessions ATTACH PARTITION sessions_h0 FOR VALUES WITH (MODULUS 8, REMAINDER 0);
      ALTER TABLE sessions_h0 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h4 FOR VALUES WITH (MODULUS 8, REMAINDER 4);
      ALTER TABLE sessions_h4 DROP CONSTRAINT sqla_partition_hash;
      held := clock_timestamp() - started;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into % (% rows verified); the swap held writers back for at most % ms, lock wait included, after % lock timeouts', 'sessions_h0', 'sessions_h0, sessions_h4', old_rows, round(extract(epoch FROM held) * 1000), attempt;
END
$split$;

-- ACCESS EXCLUSIVE on sessions_h0_old: sessions_h0_old is the old partition, detached by the swap after its rows were verified in the split tables; only a detached table of that name is dropped
DO $split$
BEGIN
  IF to_regclass('sessions_h0_old') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h0_old')) THEN
    DROP TABLE sessions_h0_old;
  END IF;
END
$split$;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_a992a7d11bf9();

-- no table lock: the trigger below calls it for every write to sessions_h1 until the swap; it runs as the owner of the split tables, whoever writes, and finds names as this migration does
CREATE OR REPLACE FUNCTION sqla_partition_split_e21773a32c9f() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM sessions_h1_new WHERE (account_id) = (OLD.account_id);
    DELETE FROM sessions_h5 WHERE (account_id) = (OLD.account_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF satisfies_hash_partition('sessions'::regclass, 8, 1, NEW.account_id) THEN
      INSERT INTO sessions_h1_new (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    ELSE
      INSERT INTO sessions_h5 (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

-- SHARE ROW EXCLUSIVE on sessions_h1 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h1_new, sessions_h5 are new and unused; creating the trigger waits for writes to sessions_h1 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $split$
DECLARE
  attempt int;
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    RETURN;  -- split already
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[] THEN
    RAISE EXCEPTION 'sqla-partition: the columns of % differ from the ones this migration copies (%); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
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
      END IF;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$split$;

-- ROW SHARE on sessions_h1 (FOR KEY SHARE on the rows of one batch): reads and writes continue; deletes of rows in the batch being copied wait for it (milliseconds); writes from now on reach the split tables through the trigger; rows already copied are skipped, so a rerun resumes
DO $split$
DECLARE
  lo bigint := 0;
  last_block bigint;
  n bigint;
  copied bigint := 0;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    RETURN;
  END IF;
  last_block := pg_relation_size('sessions_h1'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      BEGIN
        PERFORM set_config('lock_timeout', '5000', true);
        WITH batch AS (SELECT account_id, started_at, token FROM ONLY sessions_h1 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid FOR KEY SHARE),
        t0 AS (INSERT INTO sessions_h1_new (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 1, account_id) ON CONFLICT DO NOTHING RETURNING 1),
        t1 AS (INSERT INTO sessions_h5 (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 5, account_id) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) INTO n;
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    copied := copied + n;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % rows of % into %', copied, 'sessions_h1', 'sessions_h1_new, sessions_h5';
END
$split$;

-- ACCESS EXCLUSIVE on sessions and sessions_h1 and sessions_h1_new and sessions_h5: the copy is verified first without locks (counts and a checksum, one snapshot); the exclusive part is the detach and attaches only, which the CHECKs make scan-free; lock_timeout bounds each wait, retried
-- squawk-ignore require-concurrent-partition-detach
DO $split$
DECLARE
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
  started timestamptz;
  held interval;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h1') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 1)') THEN
    RETURN;
  END IF;
  SELECT (SELECT count(*) FROM ONLY sessions_h1), (SELECT count(*) FROM sessions_h1_new) + (SELECT count(*) FROM sessions_h5), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM ONLY sessions_h1), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h1_new) + (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h5)
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped, run the migration again to resume', 'sessions_h1', old_rows, new_rows;
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
      started := clock_timestamp();
      ALTER TABLE sessions DETACH PARTITION sessions_h1;
      DROP TRIGGER sqla_partition_split ON sessions_h1;
      ALTER TABLE sessions_h1 RENAME TO sessions_h1_old;
      ALTER TABLE sessions_h1_new RENAME TO sessions_h1;
      ALTER TABLE sessions ATTACH PARTITION sessions_h1 FOR VALUES WITH (MODULUS 8, REMAINDER 1);
      ALTER TABLE sessions_h1 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h5 FOR VALUES WITH (MODULUS 8, REMAINDER 5);
      ALTER TABLE sessions_h5 DROP CONSTRAINT sqla_partition_hash;
      held := clock_timestamp() - started;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into % (% rows verified); the swap held writers back for at most % ms, lock wait included, after % lock timeouts', 'sessions_h1', 'sessions_h1, sessions_h5', old_rows, round(extract(epoch FROM held) * 1000), attempt;
END
$split$;

-- ACCESS EXCLUSIVE on sessions_h1_old: sessions_h1_old is the old partition, detached by the swap after its rows were verified in the split tables; only a detached table of that name is dropped
DO $split$
BEGIN
  IF to_regclass('sessions_h1_old') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h1_old')) THEN
    DROP TABLE sessions_h1_old;
  END IF;
END
$split$;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_e21773a32c9f();

-- no table lock: the trigger below calls it for every write to sessions_h2 until the swap; it runs as the owner of the split tables, whoever writes, and finds names as this migration does
CREATE OR REPLACE FUNCTION sqla_partition_split_26c7547bd9f5() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM sessions_h2_new WHERE (account_id) = (OLD.account_id);
    DELETE FROM sessions_h6 WHERE (account_id) = (OLD.account_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF satisfies_hash_partition('sessions'::regclass, 8, 2, NEW.account_id) THEN
      INSERT INTO sessions_h2_new (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    ELSE
      INSERT INTO sessions_h6 (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

-- SHARE ROW EXCLUSIVE on sessions_h2 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h2_new, sessions_h6 are new and unused; creating the trigger waits for writes to sessions_h2 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $split$
DECLARE
  attempt int;
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    RETURN;  -- split already
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[] THEN
    RAISE EXCEPTION 'sqla-partition: the columns of % differ from the ones this migration copies (%); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
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
      END IF;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$split$;

-- ROW SHARE on sessions_h2 (FOR KEY SHARE on the rows of one batch): reads and writes continue; deletes of rows in the batch being copied wait for it (milliseconds); writes from now on reach the split tables through the trigger; rows already copied are skipped, so a rerun resumes
DO $split$
DECLARE
  lo bigint := 0;
  last_block bigint;
  n bigint;
  copied bigint := 0;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    RETURN;
  END IF;
  last_block := pg_relation_size('sessions_h2'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      BEGIN
        PERFORM set_config('lock_timeout', '5000', true);
        WITH batch AS (SELECT account_id, started_at, token FROM ONLY sessions_h2 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid FOR KEY SHARE),
        t0 AS (INSERT INTO sessions_h2_new (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 2, account_id) ON CONFLICT DO NOTHING RETURNING 1),
        t1 AS (INSERT INTO sessions_h6 (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 6, account_id) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) INTO n;
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    copied := copied + n;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % rows of % into %', copied, 'sessions_h2', 'sessions_h2_new, sessions_h6';
END
$split$;

-- ACCESS EXCLUSIVE on sessions and sessions_h2 and sessions_h2_new and sessions_h6: the copy is verified first without locks (counts and a checksum, one snapshot); the exclusive part is the detach and attaches only, which the CHECKs make scan-free; lock_timeout bounds each wait, retried
-- squawk-ignore require-concurrent-partition-detach
DO $split$
DECLARE
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
  started timestamptz;
  held interval;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h2') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 2)') THEN
    RETURN;
  END IF;
  SELECT (SELECT count(*) FROM ONLY sessions_h2), (SELECT count(*) FROM sessions_h2_new) + (SELECT count(*) FROM sessions_h6), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM ONLY sessions_h2), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h2_new) + (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h6)
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped, run the migration again to resume', 'sessions_h2', old_rows, new_rows;
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
      started := clock_timestamp();
      ALTER TABLE sessions DETACH PARTITION sessions_h2;
      DROP TRIGGER sqla_partition_split ON sessions_h2;
      ALTER TABLE sessions_h2 RENAME TO sessions_h2_old;
      ALTER TABLE sessions_h2_new RENAME TO sessions_h2;
      ALTER TABLE sessions ATTACH PARTITION sessions_h2 FOR VALUES WITH (MODULUS 8, REMAINDER 2);
      ALTER TABLE sessions_h2 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h6 FOR VALUES WITH (MODULUS 8, REMAINDER 6);
      ALTER TABLE sessions_h6 DROP CONSTRAINT sqla_partition_hash;
      held := clock_timestamp() - started;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into % (% rows verified); the swap held writers back for at most % ms, lock wait included, after % lock timeouts', 'sessions_h2', 'sessions_h2, sessions_h6', old_rows, round(extract(epoch FROM held) * 1000), attempt;
END
$split$;

-- ACCESS EXCLUSIVE on sessions_h2_old: sessions_h2_old is the old partition, detached by the swap after its rows were verified in the split tables; only a detached table of that name is dropped
DO $split$
BEGIN
  IF to_regclass('sessions_h2_old') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h2_old')) THEN
    DROP TABLE sessions_h2_old;
  END IF;
END
$split$;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_26c7547bd9f5();

-- no table lock: the trigger below calls it for every write to sessions_h3 until the swap; it runs as the owner of the split tables, whoever writes, and finds names as this migration does
CREATE OR REPLACE FUNCTION sqla_partition_split_68c9400af59a() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM sessions_h3_new WHERE (account_id) = (OLD.account_id);
    DELETE FROM sessions_h7 WHERE (account_id) = (OLD.account_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF satisfies_hash_partition('sessions'::regclass, 8, 3, NEW.account_id) THEN
      INSERT INTO sessions_h3_new (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    ELSE
      INSERT INTO sessions_h7 (account_id, started_at, token) VALUES (NEW.account_id, NEW.started_at, NEW.token) ON CONFLICT (account_id) DO UPDATE SET started_at = EXCLUDED.started_at, token = EXCLUDED.token;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

-- SHARE ROW EXCLUSIVE on sessions_h3 (the trigger) and on tables its foreign keys reference, ACCESS SHARE on sessions: sessions_h3_new, sessions_h7 are new and unused; creating the trigger waits for writes to sessions_h3 in flight and holds writers back for a moment, bounded by lock_timeout and retried
DO $split$
DECLARE
  attempt int;
  fk record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    RETURN;  -- split already
  END IF;
  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') IS DISTINCT FROM ARRAY['account_id', 'started_at', 'token']::text[] THEN
    RAISE EXCEPTION 'sqla-partition: the columns of % differ from the ones this migration copies (%); nothing was changed, generate the migration again', 'sessions', 'account_id, started_at, token';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = 'sessions'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition holding referenced rows cannot be detached, so it cannot be split online', 'sessions';
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
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
      END IF;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
END
$split$;

-- ROW SHARE on sessions_h3 (FOR KEY SHARE on the rows of one batch): reads and writes continue; deletes of rows in the batch being copied wait for it (milliseconds); writes from now on reach the split tables through the trigger; rows already copied are skipped, so a rerun resumes
DO $split$
DECLARE
  lo bigint := 0;
  last_block bigint;
  n bigint;
  copied bigint := 0;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    RETURN;
  END IF;
  last_block := pg_relation_size('sessions_h3'::regclass) / current_setting('block_size')::bigint;
  WHILE lo <= last_block LOOP
    attempt := 0;
    LOOP
      BEGIN
        PERFORM set_config('lock_timeout', '5000', true);
        WITH batch AS (SELECT account_id, started_at, token FROM ONLY sessions_h3 WHERE ctid >= ('(' || lo || ',0)')::tid AND ctid < ('(' || (lo + 256) || ',0)')::tid FOR KEY SHARE),
        t0 AS (INSERT INTO sessions_h3_new (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 3, account_id) ON CONFLICT DO NOTHING RETURNING 1),
        t1 AS (INSERT INTO sessions_h7 (account_id, started_at, token) SELECT account_id, started_at, token FROM batch WHERE satisfies_hash_partition('sessions'::regclass, 8, 7, account_id) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) INTO n;
        EXIT;
      EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        attempt := attempt + 1;
        IF attempt > 5 THEN RAISE; END IF;
        PERFORM pg_sleep(0.2 * attempt);
      END;
    END LOOP;
    copied := copied + n;
    lo := lo + 256;
    COMMIT;
  END LOOP;
  RAISE NOTICE 'sqla-partition: copied % rows of % into %', copied, 'sessions_h3', 'sessions_h3_new, sessions_h7';
END
$split$;

-- ACCESS EXCLUSIVE on sessions and sessions_h3 and sessions_h3_new and sessions_h7: the copy is verified first without locks (counts and a checksum, one snapshot); the exclusive part is the detach and attaches only, which the CHECKs make scan-free; lock_timeout bounds each wait, retried
-- squawk-ignore require-concurrent-partition-detach
DO $split$
DECLARE
  old_rows bigint;
  new_rows bigint;
  old_sum bigint;
  new_sum bigint;
  started timestamptz;
  held interval;
  attempt int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.oid = to_regclass('sessions_h3') AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES WITH (modulus 4, remainder 3)') THEN
    RETURN;
  END IF;
  SELECT (SELECT count(*) FROM ONLY sessions_h3), (SELECT count(*) FROM sessions_h3_new) + (SELECT count(*) FROM sessions_h7), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM ONLY sessions_h3), (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h3_new) + (SELECT coalesce(sum(hashtext(ROW(account_id, started_at, token)::text)), 0) FROM sessions_h7)
    INTO old_rows, new_rows, old_sum, new_sum;
  IF old_rows <> new_rows OR old_sum <> new_sum THEN
    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their contents differ); nothing was swapped, run the migration again to resume', 'sessions_h3', old_rows, new_rows;
  END IF;
  attempt := 0;
  LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '5000', true);
      started := clock_timestamp();
      ALTER TABLE sessions DETACH PARTITION sessions_h3;
      DROP TRIGGER sqla_partition_split ON sessions_h3;
      ALTER TABLE sessions_h3 RENAME TO sessions_h3_old;
      ALTER TABLE sessions_h3_new RENAME TO sessions_h3;
      ALTER TABLE sessions ATTACH PARTITION sessions_h3 FOR VALUES WITH (MODULUS 8, REMAINDER 3);
      ALTER TABLE sessions_h3 DROP CONSTRAINT sqla_partition_hash;
      ALTER TABLE sessions ATTACH PARTITION sessions_h7 FOR VALUES WITH (MODULUS 8, REMAINDER 7);
      ALTER TABLE sessions_h7 DROP CONSTRAINT sqla_partition_hash;
      held := clock_timestamp() - started;
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: split % into % (% rows verified); the swap held writers back for at most % ms, lock wait included, after % lock timeouts', 'sessions_h3', 'sessions_h3, sessions_h7', old_rows, round(extract(epoch FROM held) * 1000), attempt;
END
$split$;

-- ACCESS EXCLUSIVE on sessions_h3_old: sessions_h3_old is the old partition, detached by the swap after its rows were verified in the split tables; only a detached table of that name is dropped
DO $split$
BEGIN
  IF to_regclass('sessions_h3_old') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('sessions_h3_old')) THEN
    DROP TABLE sessions_h3_old;
  END IF;
END
$split$;

-- no table lock: the split's own trigger function; its trigger went with the swap
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition_split_68c9400af59a();

-- ACCESS EXCLUSIVE on sqla_partition_policy (only when it is new): records each table's policy so that roll needs only a database URL
CREATE TABLE IF NOT EXISTS public.sqla_partition_policy (schema_name text NOT NULL, table_name text NOT NULL, policy jsonb NOT NULL, key_type text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), rolled_at timestamptz, PRIMARY KEY (schema_name, table_name));

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO public.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'sessions', '{"colocate_with": null, "column": "account_id", "distributed": null, "kind": "hash", "partition_prefix": null, "partitions": 8}'::jsonb, 'hash') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

COMMIT;

