BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

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

-- ACCESS SHARE on events: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE events_p2027_03 (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);

-- ACCESS EXCLUSIVE on events: reads and writes of events wait here until COMMIT, then see the moved rows in the new partition (planned earlier, they would look for them in events_default only, after they left it); roll's --max-move-rows bounds the rows moved meanwhile
LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE;

-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first so no row of the new range slips in between the move and the ATTACH
LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE;

-- ROW EXCLUSIVE on events_default and events_p2027_03: moves rows of the new range out of the DEFAULT partition, atomically; writes to the parent wait meanwhile (roll's --max-move-rows bounds how many rows that is)
DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'events_p2027_03'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM events_default WHERE created_at >= ''2027-03-01 00:00:00+00:00''::timestamptz AND created_at < ''2027-04-01 00:00:00+00:00''::timestamptz RETURNING *)', 'events_p2027_03'::pg_catalog.regclass, cols, cols);
END
$do$;

-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_03 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2027_03 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE events ATTACH PARTITION events_p2027_03 FOR VALUES FROM ('2027-03-01 00:00:00+00:00') TO ('2027-04-01 00:00:00+00:00');

-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'events_p2027_03', current_schema(), 'events', '2027-03-01 00:00:00+00:00', '2027-04-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- sqla-partition: events has DEFAULT partition events_default
-- ACCESS EXCLUSIVE on events and events_p2026_11 and events_default: brief; CONCURRENTLY is refused while events_default (a DEFAULT partition) exists, and lock_timeout bounds the wait so the queue behind it stays short
-- squawk-ignore require-concurrent-partition-detach
ALTER TABLE events DETACH PARTITION events_p2026_11;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'events_p2026_11', current_schema(), 'events', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

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

-- ACCESS EXCLUSIVE on events_p2026_11: the table is not attached, nobody uses it; the CHECK is added again just below
-- squawk-ignore ban-drop-constraint
ALTER TABLE events_p2026_11 DROP CONSTRAINT IF EXISTS sqla_partition_bound;

-- ACCESS EXCLUSIVE on events_p2026_11: scans the table's rows, but the table is not a partition: the application does not use it; the CHECK spares ATTACH a scan under the parent's lock
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE events_p2026_11 ADD CONSTRAINT sqla_partition_bound CHECK (created_at IS NOT NULL AND created_at >= '2026-11-01 00:00:00+00:00'::timestamptz AND created_at < '2026-12-01 00:00:00+00:00'::timestamptz);

-- ACCESS EXCLUSIVE on events: reads and writes of events wait here until COMMIT, then see the moved rows in the new partition (planned earlier, they would look for them in events_default only, after they left it); roll's --max-move-rows bounds the rows moved meanwhile
LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE;

-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first so no row of the new range slips in between the move and the ATTACH
LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE;

-- ROW EXCLUSIVE on events_default and events_p2026_11: moves rows of the new range out of the DEFAULT partition, atomically; writes to the parent wait meanwhile (roll's --max-move-rows bounds how many rows that is)
DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'events_p2026_11'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM events_default WHERE created_at >= ''2026-11-01 00:00:00+00:00''::timestamptz AND created_at < ''2026-12-01 00:00:00+00:00''::timestamptz RETURNING *)', 'events_p2026_11'::pg_catalog.regclass, cols, cols);
END
$do$;

-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2026_11 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2026_11 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE events ATTACH PARTITION events_p2026_11 FOR VALUES FROM ('2026-11-01 00:00:00+00:00') TO ('2026-12-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on events_p2026_11 (held already by the ATTACH above): the partition constraint enforces the same bound from now on
-- squawk-ignore ban-drop-constraint
ALTER TABLE events_p2026_11 DROP CONSTRAINT IF EXISTS sqla_partition_bound;

-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'events_p2026_11', current_schema(), 'events', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;

-- SHARE UPDATE EXCLUSIVE on blobs, ACCESS EXCLUSIVE on blobs_p0000000000: reads and writes of blobs continue, blobs_p0000000000 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE blobs DETACH PARTITION blobs_p0000000000 CONCURRENTLY;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'blobs_p0000000000', current_schema(), 'blobs', '0', '1000000', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;

-- SHARE UPDATE EXCLUSIVE on blobs, ACCESS EXCLUSIVE on blobs_p0000001000000: reads and writes of blobs continue, blobs_p0000001000000 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE blobs DETACH PARTITION blobs_p0000001000000 CONCURRENTLY;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'blobs_p0000001000000', current_schema(), 'blobs', NULL, NULL, 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on blobs_p0000001000000: the table is no longer a partition and the policy (on_expire='drop') or the migration asks for its rows to go
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS blobs_p0000001000000;

-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the table it recorded is gone
DELETE FROM sqla_partition.sqla_partition_partitions WHERE partition_schema = current_schema() AND partition_name = 'blobs_p0000001000000';

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: a table's first policy adopts the partitions it has (nothing when a policy exists)
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) SELECT cn.nspname, cc.relname, pn.nspname, pc.relname, NULL, NULL, 'attached', NULL FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS cc ON cc.oid = i.inhrelid JOIN pg_catalog.pg_namespace AS cn ON cn.oid = cc.relnamespace JOIN pg_catalog.pg_class AS pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace AS pn ON pn.oid = pc.relnamespace WHERE i.inhparent = 'events'::regclass AND NOT EXISTS (SELECT 1 FROM sqla_partition.sqla_partition_policy AS p WHERE p.schema_name = current_schema() AND p.table_name = 'events') ON CONFLICT (partition_schema, partition_name) DO NOTHING;

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'events', '{"anchor": null, "archive_schema": null, "colocate_with": null, "column": "created_at", "default": true, "distributed_by": null, "epoch": null, "interval": "1 month", "keep_foreign_keys": false, "kind": "range", "naming": "sqla", "on_expire": "detach", "partition_prefix": null, "premake": 6, "retention": "24 months", "subpartition": null, "timezone": "UTC"}'::jsonb, 'timestamptz') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- ACCESS SHARE on events; ACCESS EXCLUSIVE on events; ACCESS EXCLUSIVE on events_default; ROW EXCLUSIVE on events_default and events_p2027_06; SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_06 and events_default; ROW EXCLUSIVE on sqla_partition_partitions: makes and attaches events_p2027_06 as op.create_range_partition does (the parent held while rows move out of a DEFAULT partition), unless events_p2027_06 is a partition already
DO $do1$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'events'::regclass AND inhrelid = pg_catalog.to_regclass('events_p2027_06')) THEN
    NULL;
  ELSIF pg_catalog.to_regclass('events_p2027_06') IS NOT NULL THEN
    RAISE WARNING 'sqla-partition: % exists and is not a partition of %: its period is left without a partition (an archive: sqla-partition reattach puts it back)', 'events_p2027_06', 'events';
  ELSE
    CREATE TABLE events_p2027_06 (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
    LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE;
    LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE;
    DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'events_p2027_06'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM events_default WHERE created_at >= ''2027-06-01 00:00:00+00:00''::timestamptz AND created_at < ''2027-07-01 00:00:00+00:00''::timestamptz RETURNING *)', 'events_p2027_06'::pg_catalog.regclass, cols, cols);
END
$do$;
    ALTER TABLE events ATTACH PARTITION events_p2027_06 FOR VALUES FROM ('2027-06-01 00:00:00+00:00') TO ('2027-07-01 00:00:00+00:00');
    INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'events_p2027_06', current_schema(), 'events', '2027-06-01 00:00:00+00:00', '2027-07-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
  END IF;
END
$do1$;

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS SHARE on sqla_partition_partitions: reads the record only: the drop stops here, before anything changes, if the table has archives
DO $do$
DECLARE
  arch record;
  names text[] := '{}';
BEGIN
  IF to_regclass('sqla_partition.sqla_partition_partitions') IS NULL THEN
    RETURN;
  END IF;
  FOR arch IN SELECT r.partition_schema, r.partition_name FROM sqla_partition.sqla_partition_partitions AS r JOIN pg_namespace AS n ON n.nspname = r.partition_schema JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = r.partition_name WHERE (r.schema_name, r.table_name) IN (SELECT current_schema(), 'sessions' UNION ALL SELECT cn.nspname::text, cc.relname::text FROM pg_inherits AS ci JOIN pg_class AS cc ON cc.oid = ci.inhrelid JOIN pg_namespace AS cn ON cn.oid = cc.relnamespace WHERE ci.inhparent = to_regclass('sessions')) AND NOT c.relispartition ORDER BY r.lower_bound LOOP
    names := names || format('%I.%I', arch.partition_schema, arch.partition_name);
  END LOOP;
  IF array_length(names, 1) > 0 THEN
    RAISE EXCEPTION 'sqla-partition: % has % archived partition(s): %', 'sessions', array_length(names, 1), array_to_string(names, ', ')
      USING HINT = 'drop_partitioned_table(..., archives=''drop'') drops them too; archives=''keep'' leaves them as plain tables',
        ERRCODE = 'dependent_objects_still_exist';
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

-- ROW EXCLUSIVE on sqla_partition_policy: one row; the table itself is untouched
DELETE FROM sqla_partition.sqla_partition_policy WHERE schema_name = current_schema() AND table_name = 'sessions';

-- ROW EXCLUSIVE on sqla_partition_policy: the rows of the table's partitions, if any; the tables go with the drop below
DELETE FROM sqla_partition.sqla_partition_policy AS p USING pg_inherits AS i, pg_class AS c, pg_namespace AS n WHERE i.inhparent = to_regclass('sessions') AND c.oid = i.inhrelid AND n.oid = c.relnamespace AND p.schema_name = n.nspname AND p.table_name = c.relname;

-- ROW EXCLUSIVE on sqla_partition_partitions: the table's rows of the record; kept archives become plain tables
DO $do$
BEGIN
  IF to_regclass('sqla_partition.sqla_partition_partitions') IS NOT NULL THEN
    DELETE FROM sqla_partition.sqla_partition_partitions WHERE (schema_name, table_name) IN (SELECT current_schema(), 'sessions' UNION ALL SELECT cn.nspname::text, cc.relname::text FROM pg_inherits AS ci JOIN pg_class AS cc ON cc.oid = ci.inhrelid JOIN pg_namespace AS cn ON cn.oid = cc.relnamespace WHERE ci.inhparent = to_regclass('sessions'));
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sessions and every partition: removes the table and all its partitions with their data, as the migration asks
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS sessions;

-- no table lock: nothing of sqla-partition stays behind once no table is audited
-- squawk-ignore ban-drop-table
DO $do$
BEGIN
  IF to_regprocedure('sqla_partition.sqla_partition_audit_columns()') IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure('sqla_partition.sqla_partition_audit_columns()')) THEN
    DROP FUNCTION sqla_partition.sqla_partition_audit_columns();
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_move();
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_guard();
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_moved(text, text, text);
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_moved(text, text, text, regclass);
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_move_end();
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_actor();
    DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_moved(timestamptz, text);
    DROP TABLE IF EXISTS sqla_partition.sqla_partition_audit_secret;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on sqla_partition_policy and sqla_partition_partitions, only when no table uses them: nothing of sqla-partition stays behind once no table is managed
-- squawk-ignore ban-drop-table
DO $do$
BEGIN
  IF to_regclass('sqla_partition.sqla_partition_policy') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM sqla_partition.sqla_partition_policy) THEN
    DROP TABLE sqla_partition.sqla_partition_policy;
    IF to_regclass('sqla_partition.sqla_partition_partitions') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM sqla_partition.sqla_partition_partitions) THEN
      DROP TABLE sqla_partition.sqla_partition_partitions;
    END IF;
    DROP TABLE IF EXISTS sqla_partition.sqla_partition_roll_keys;
    DROP TABLE IF EXISTS sqla_partition.sqla_partition_roll_state;
    BEGIN
      DROP SCHEMA IF EXISTS sqla_partition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
      NULL;  -- something else lives there: the schema stays
    WHEN internal_error THEN
      NULL;  -- Citus: no schema command after this transaction's parallel drops
    END;
  END IF;
END
$do$;

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

