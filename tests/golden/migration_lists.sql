BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

CREATE TABLE orders (
    id BIGINT NOT NULL, 
    region TEXT NOT NULL, 
    PRIMARY KEY (id, region)
)
 PARTITION BY LIST (region);

-- ACCESS EXCLUSIVE on orders: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS orders_eu PARTITION OF orders FOR VALUES IN ('de', 'fr');

-- ACCESS EXCLUSIVE on orders: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS orders_us PARTITION OF orders FOR VALUES IN ('us', 'ca');

-- ACCESS EXCLUSIVE on orders: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS orders_default PARTITION OF orders DEFAULT;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: 3 rows, in the same transaction as the partitions they record
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'orders_eu', current_schema(), 'orders', NULL, NULL, 'attached', NULL), (current_schema(), 'orders_us', current_schema(), 'orders', NULL, NULL, 'attached', NULL), (current_schema(), 'orders_default', current_schema(), 'orders', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'orders', '{"colocate_with": null, "column": "region", "default": true, "distributed_by": null, "kind": "list", "partition_prefix": null, "partitions": [["eu", ["de", "fr"]], ["us", ["us", "ca"]]], "subpartition": null}'::jsonb, 'list') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 0;

-- ACCESS EXCLUSIVE on orders_eu (each of its leaves, when partitioned): brief; the partition's bound says the same, or it is not added yet
DO $do$
DECLARE
  leaf regclass;
BEGIN
  FOR leaf IN SELECT relid FROM pg_partition_tree('orders_eu'::regclass) WHERE isleaf LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS sqlp_list_bound', leaf);
  END LOOP;
END
$do$;

-- ACCESS EXCLUSIVE on orders_eu (each of its leaves, when partitioned): brief: NOT VALID reads no row; a re-run drops it first (just above)
DO $do$
DECLARE
  leaf regclass;
BEGIN
  FOR leaf IN SELECT relid FROM pg_partition_tree('orders_eu'::regclass) WHERE isleaf LOOP
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT sqlp_list_bound CHECK (region IS NOT NULL AND region IN (''de'', ''fr'', ''nl'')) NOT VALID', leaf);
  END LOOP;
END
$do$;

-- SHARE UPDATE EXCLUSIVE on orders_eu (each of its leaves, when partitioned): scans the partition while its reads and writes go on
DO $do$
DECLARE
  leaf regclass;
BEGIN
  FOR leaf IN SELECT relid FROM pg_partition_tree('orders_eu'::regclass) WHERE isleaf LOOP
    EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT sqlp_list_bound', leaf);
  END LOOP;
END
$do$;

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on orders: reads and writes of orders wait here until COMMIT, then see the moved rows in the new partition (planned earlier, they would look for them in orders_default only, after they left it); roll's --max-move-rows bounds the rows moved meanwhile
LOCK TABLE ONLY orders IN ACCESS EXCLUSIVE MODE;

-- ACCESS EXCLUSIVE on orders_default: ATTACH below needs it anyway; taken first so no row of the new range slips in between the move and the ATTACH
LOCK TABLE orders_default IN ACCESS EXCLUSIVE MODE;

-- sqla-partition: orders has DEFAULT partition orders_default
-- ACCESS EXCLUSIVE on orders and orders_us and orders_default: brief; CONCURRENTLY is refused while orders_default (a DEFAULT partition) exists, and lock_timeout bounds the wait so the queue behind it stays short
-- squawk-ignore require-concurrent-partition-detach
ALTER TABLE orders DETACH PARTITION orders_us;

-- ROW EXCLUSIVE on orders_us and orders_default: under the parent's lock above: the rows of these values leave orders_us for their partition in this transaction, never seen in both or in neither
DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'orders_default'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM orders_us WHERE region IN (''ca'') RETURNING *)', 'orders_default'::pg_catalog.regclass, cols, cols);
END
$do$;

-- sqla-partition: orders has DEFAULT partition orders_default
-- SHARE UPDATE EXCLUSIVE on orders, ACCESS EXCLUSIVE on orders_us and orders_default: orders_us is read once, under the lock above, to prove its rows fit the smaller bound; orders_default is scanned for rows of these values, moved out just above
ALTER TABLE orders ATTACH PARTITION orders_us FOR VALUES IN ('us');

-- ACCESS SHARE on orders and sqla_partition_partitions: only reads the parent's definition; a recorded archive of this partition is taken back as it is (ATTACH then reads it once, under the lock below)
DO $do$
BEGIN
  IF to_regclass('"orders_it''s"') IS NULL OR NOT EXISTS (
      SELECT 1 FROM sqla_partition.sqla_partition_partitions AS r
       WHERE r.partition_schema = current_schema() AND r.partition_name = 'orders_it''s'
         AND r.schema_name = current_schema() AND r.table_name = 'orders'
         AND r.state = 'detached')
     OR (SELECT c.relowner FROM pg_class AS c WHERE c.oid = to_regclass('"orders_it''s"'))
        IS DISTINCT FROM (SELECT c.relowner FROM pg_class AS c WHERE c.oid = to_regclass('orders')) THEN
    CREATE TABLE "orders_it's" (LIKE orders INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
  END IF;
END
$do$;

-- ROW EXCLUSIVE on orders_default and orders_it's: under the parent's lock above: the rows of these values leave orders_default for their partition in this transaction, never seen in both or in neither
DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) '"orders_it''s"'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM orders_default WHERE region IN (''it'') RETURNING *)', '"orders_it''s"'::pg_catalog.regclass, cols, cols);
END
$do$;

-- sqla-partition: orders has DEFAULT partition orders_default
-- SHARE UPDATE EXCLUSIVE on orders, ACCESS EXCLUSIVE on orders_it's and orders_default: orders_it's is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; orders_default is scanned for rows of these values, moved out just above
ALTER TABLE orders ATTACH PARTITION "orders_it's" FOR VALUES IN ('it');

-- sqla-partition: orders has DEFAULT partition orders_default
-- ACCESS EXCLUSIVE on orders and orders_eu and orders_default: brief; CONCURRENTLY is refused while orders_default (a DEFAULT partition) exists, and lock_timeout bounds the wait so the queue behind it stays short
-- squawk-ignore require-concurrent-partition-detach
ALTER TABLE orders DETACH PARTITION orders_eu;

-- ROW EXCLUSIVE on orders_default and orders_eu: under the parent's lock above: the rows of these values leave orders_default for their partition in this transaction, never seen in both or in neither
DO $do$
DECLARE
  cols text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'orders_eu'::pg_catalog.regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved', 'WITH moved AS (DELETE FROM orders_default WHERE region IN (''nl'') RETURNING *)', 'orders_eu'::pg_catalog.regclass, cols, cols);
END
$do$;

-- sqla-partition: orders has DEFAULT partition orders_default
-- SHARE UPDATE EXCLUSIVE on orders, ACCESS EXCLUSIVE on orders_eu and orders_default: orders_eu is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; orders_default is scanned for rows of these values, moved out just above
ALTER TABLE orders ATTACH PARTITION orders_eu FOR VALUES IN ('de', 'fr', 'nl');

-- ACCESS EXCLUSIVE on orders_eu (each of its leaves, when partitioned): brief; the partition's bound says the same, or it is not added yet
DO $do$
DECLARE
  leaf regclass;
BEGIN
  FOR leaf IN SELECT relid FROM pg_partition_tree('orders_eu'::regclass) WHERE isleaf LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS sqlp_list_bound', leaf);
  END LOOP;
END
$do$;

-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'orders_it''s', current_schema(), 'orders', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

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

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'orders', '{"colocate_with": null, "column": "region", "default": true, "distributed_by": null, "kind": "list", "partition_prefix": null, "partitions": [["eu", ["de", "fr", "nl"]], ["us", ["us"]], ["it''s", ["it"]]], "subpartition": null}'::jsonb, 'list') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

