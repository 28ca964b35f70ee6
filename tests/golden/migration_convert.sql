BEGIN;

COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET statement_timeout = 0;

-- ACCESS EXCLUSIVE on orders, only if an interrupted run left its CHECK: brief; a CHECK left behind would refuse every row of the new periods
DO $do$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'r'
     AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass
                   AND conname = 'sqla_partition_bound') THEN
    ALTER TABLE orders DROP CONSTRAINT sqla_partition_bound;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on orders: brief: NOT VALID checks only the rows written from now on, so nothing is scanned; the bound is the start of the first new period, later than any row written now
DO $do$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'p'
     AND to_regclass('orders_legacy') IS NOT NULL THEN
    RETURN;  -- converted already
  END IF;
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) IS DISTINCT FROM 'r' THEN
    RAISE EXCEPTION 'sqla-partition: % is not a plain table', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_index x
              WHERE x.indrelid = 'orders'::regclass AND x.indisunique
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
                        AND a.attname = 'created_at')) THEN
    RAISE EXCEPTION 'sqla-partition: the primary key or a unique index of % does not include %: PostgreSQL enforces uniqueness per partition only; add % to them first', 'orders', 'created_at', 'created_at';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'
              AND confrelid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a foreign key to a partitioned table needs its whole key; drop or change it first', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.refobjid = 'orders'::regclass AND r.ev_class <> 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: views depend on %; they would keep reading the old table only: drop them first and create them again after', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger
              WHERE tgrelid = 'orders'::regclass AND NOT tgisinternal) THEN
    RAISE EXCEPTION 'sqla-partition: % has triggers of its own; move them to the new table by hand after the conversion, or drop them first', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass
              AND (contype = 'x' OR (NOT convalidated AND conname <> 'sqla_partition_bound')))
     OR EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'orders'::regclass AND NOT indisvalid) THEN
    RAISE EXCEPTION 'sqla-partition: % has an exclusion constraint, a NOT VALID constraint or an invalid index, which a partitioned table cannot take over as it is: validate, rebuild or drop it first', 'orders';
  END IF;
  IF (SELECT relrowsecurity FROM pg_class WHERE oid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % uses row-level security; its policies would not follow: convert it by hand', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_publication_tables p JOIN pg_class c ON c.relname = p.tablename
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
              WHERE c.oid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is published for logical replication; take it out of the publication first and add the new table after', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'orders'::regclass OR inhrelid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % takes part in table inheritance', 'orders';
  END IF;
  IF now() >= '2026-12-01 00:00:00+00:00'::timestamptz - interval '1 hour' THEN
    RAISE EXCEPTION 'sqla-partition: this migration converts % with its first new partition starting at %, which is past or less than an hour away (rows of that period would be refused until the conversion ends); generate the migration again', 'orders', '2026-12-01 00:00:00+00:00';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname = 'sqla_partition_bound') THEN
    ALTER TABLE orders ADD CONSTRAINT sqla_partition_bound CHECK (created_at IS NOT NULL AND created_at < '2026-12-01 00:00:00+00:00'::timestamptz) NOT VALID;
  END IF;
END
$do$;

-- SHARE UPDATE EXCLUSIVE on orders: scans the table for the CHECK while reads and writes go on
DO $do$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'r' THEN
    BEGIN
      ALTER TABLE orders VALIDATE CONSTRAINT sqla_partition_bound;
    EXCEPTION WHEN check_violation THEN
      -- never leave the CHECK behind: it would refuse every later row
      ALTER TABLE orders DROP CONSTRAINT sqla_partition_bound;
      RAISE EXCEPTION 'sqla-partition: % has rows at or past %, or without a value for the partition key; the first new partition must start later than every row, and every row needs a key', 'orders', '2026-12-01 00:00:00+00:00';
    END;
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on orders, and on the tables its foreign keys reference: brief: renames, a new empty parent, and an ATTACH the validated CHECK makes scan-free; lock_timeout bounds each wait, retried
DO $do$
DECLARE
  attempt int;
  started timestamptz;
  worst interval := interval '0';
  ix record;
  col record;
  fk record;
  g record;
  sq record;
  indexes text[];
  definition text;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'p'
     AND to_regclass('orders_legacy') IS NOT NULL THEN
    RETURN;  -- converted already
  END IF;
  IF false THEN
    RAISE EXCEPTION 'sqla-partition: % is not a plain table', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_index x
              WHERE x.indrelid = 'orders'::regclass AND x.indisunique
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
                        AND a.attname = 'created_at')) THEN
    RAISE EXCEPTION 'sqla-partition: the primary key or a unique index of % does not include %: PostgreSQL enforces uniqueness per partition only; add % to them first', 'orders', 'created_at', 'created_at';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'
              AND confrelid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a foreign key to a partitioned table needs its whole key; drop or change it first', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.refobjid = 'orders'::regclass AND r.ev_class <> 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: views depend on %; they would keep reading the old table only: drop them first and create them again after', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger
              WHERE tgrelid = 'orders'::regclass AND NOT tgisinternal) THEN
    RAISE EXCEPTION 'sqla-partition: % has triggers of its own; move them to the new table by hand after the conversion, or drop them first', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass
              AND (contype = 'x' OR (NOT convalidated AND conname <> 'sqla_partition_bound')))
     OR EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'orders'::regclass AND NOT indisvalid) THEN
    RAISE EXCEPTION 'sqla-partition: % has an exclusion constraint, a NOT VALID constraint or an invalid index, which a partitioned table cannot take over as it is: validate, rebuild or drop it first', 'orders';
  END IF;
  IF (SELECT relrowsecurity FROM pg_class WHERE oid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % uses row-level security; its policies would not follow: convert it by hand', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_publication_tables p JOIN pg_class c ON c.relname = p.tablename
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
              WHERE c.oid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % is published for logical replication; take it out of the publication first and add the new table after', 'orders';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'orders'::regclass OR inhrelid = 'orders'::regclass) THEN
    RAISE EXCEPTION 'sqla-partition: % takes part in table inheritance', 'orders';
  END IF;
  attempt := 0;
  LOOP
    started := clock_timestamp();
    BEGIN
      PERFORM set_config('lock_timeout', least(5000, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, true);
      -- the indexes and key constraints as they are: the new table gets them by name
      indexes := ARRAY(SELECT CASE WHEN k.conname IS NULL THEN pg_get_indexdef(x.indexrelid) ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'orders', k.conname, pg_get_constraintdef(k.oid)) END FROM pg_index x LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid WHERE x.indrelid = 'orders'::regclass);
      ALTER TABLE orders RENAME TO orders_legacy;
      -- the old indexes make way for the new table's: their names are schema-wide
      FOR ix IN SELECT x.indexrelid::regclass::text AS idx, CASE WHEN length(c.relname) <= 56 THEN c.relname || '_legacy' ELSE left(c.relname, 40) || '_' || left(md5(c.relname), 8) || '_legacy' END AS new_name FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'orders_legacy'::regclass LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I', ix.idx, ix.new_name);
      END LOOP;
      CREATE TABLE orders (LIKE orders_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STATISTICS) PARTITION BY RANGE (created_at);
      -- the bound CHECK belongs to the legacy table only
      ALTER TABLE orders DROP CONSTRAINT sqla_partition_bound;
      EXECUTE format('ALTER TABLE %s OWNER TO %I', 'orders', (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'orders_legacy'::regclass));
      -- sequences of serial columns go with the new table (dropping the legacy
      -- partition one day must not take them along)
      FOR sq IN SELECT d.objid::regclass::text AS seq, a.attname FROM pg_depend d
        JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
       WHERE d.refobjid = 'orders_legacy'::regclass AND d.classid = 'pg_class'::regclass
         AND d.deptype = 'a' LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', sq.seq, 'orders', sq.attname);
      END LOOP;
      FOREACH definition IN ARRAY indexes LOOP
        EXECUTE definition;  -- no partition yet: nothing to build
      END LOOP;
      -- identity columns go on from where the old table's sequence was
      FOR col IN SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'orders_legacy'::regclass AND a.attidentity <> '' LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I RESTART WITH %s', 'orders', col.attname, nextval(pg_get_serial_sequence('orders_legacy', col.attname)));
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', 'orders_legacy', col.attname);
      END LOOP;
      ALTER TABLE orders ATTACH PARTITION orders_legacy FOR VALUES FROM (MINVALUE) TO ('2026-12-01 00:00:00+00:00');
      ALTER TABLE orders_legacy DROP CONSTRAINT sqla_partition_bound;
      -- foreign keys: the legacy partition's own, validated, are adopted, not re-checked
      FOR fk IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'orders_legacy'::regclass AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', 'orders', fk.conname, fk.def);
      END LOOP;
      -- grants, on the table and on its columns, with their grant options
      FOR g IN SELECT a.privilege_type, NULL::name AS col, a.is_grantable, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'orders_legacy'::regclass
                UNION ALL SELECT a.privilege_type, t.attname, a.is_grantable, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END FROM pg_attribute t, aclexplode(t.attacl) a WHERE t.attrelid = 'orders_legacy'::regclass AND t.attacl IS NOT NULL LOOP
        EXECUTE format('GRANT %s%s ON %s TO %s%s', g.privilege_type, CASE WHEN g.col IS NULL THEN '' ELSE format(' (%I)', g.col) END, 'orders', g.who, CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
      END LOOP;
      EXECUTE format('COMMENT ON TABLE %s IS %L', 'orders', obj_description('orders_legacy'::regclass, 'pg_class'));
      CREATE TABLE IF NOT EXISTS orders_p2026_12 PARTITION OF orders FOR VALUES FROM ('2026-12-01 00:00:00+00:00') TO ('2027-01-01 00:00:00+00:00');
      CREATE TABLE IF NOT EXISTS orders_p2027_01 PARTITION OF orders FOR VALUES FROM ('2027-01-01 00:00:00+00:00') TO ('2027-02-01 00:00:00+00:00');
      CREATE TABLE IF NOT EXISTS orders_p2027_02 PARTITION OF orders FOR VALUES FROM ('2027-02-01 00:00:00+00:00') TO ('2027-03-01 00:00:00+00:00');
      CREATE TABLE IF NOT EXISTS orders_default PARTITION OF orders DEFAULT;
      worst := greatest(worst, clock_timestamp() - started);
      EXIT;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
      worst := greatest(worst, clock_timestamp() - started);
      attempt := attempt + 1;
      IF attempt > 5 THEN RAISE; END IF;
      PERFORM pg_sleep(0.2 * attempt);
    END;
  END LOOP;
  RAISE NOTICE 'sqla-partition: partitioned %, its rows kept in %; the swap held writers back for at most % ms, lock waits included, after % lock timeouts', 'orders', 'orders_legacy', round(extract(epoch FROM worst) * 1000), attempt;
END
$do$;

-- ACCESS EXCLUSIVE on orders, only if it was not converted: a CHECK left behind would refuse every row of the new periods
DO $do$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'r' THEN
    ALTER TABLE orders DROP CONSTRAINT IF EXISTS sqla_partition_bound;
  END IF;
END
$do$;

-- no table lock: stops a script run by psql here when the conversion did not happen
DO $do$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('orders')) = 'r' THEN
    RAISE EXCEPTION 'sqla-partition: % was not converted (see the error above); nothing is left changed: run the migration again', 'orders';
  END IF;
END
$do$;

-- SHARE UPDATE EXCLUSIVE on orders: the new partitioned table has no statistics yet (autovacuum does not analyze partitioned tables); reads and writes continue
ANALYZE orders;

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

-- ROW EXCLUSIVE on sqla_partition_partitions: 5 rows, in the same transaction as the partitions they record
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'orders_legacy', current_schema(), 'orders', NULL, '2026-12-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'orders_p2026_12', current_schema(), 'orders', '2026-12-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'orders_p2027_01', current_schema(), 'orders', '2027-01-01 00:00:00+00:00', '2027-02-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'orders_p2027_02', current_schema(), 'orders', '2027-02-01 00:00:00+00:00', '2027-03-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'orders_default', current_schema(), 'orders', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'orders', '{"anchor": null, "archive_schema": null, "colocate_with": null, "column": "created_at", "default": true, "distributed_by": null, "epoch": null, "interval": "1 month", "keep_foreign_keys": false, "kind": "range", "naming": "sqla", "on_expire": "detach", "partition_prefix": null, "premake": 2, "retention": null, "subpartition": null, "timezone": "UTC"}'::jsonb, 'timestamptz') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the role's setting
RESET lock_timeout;

-- no lock: back to the role's setting
RESET statement_timeout;

BEGIN;

COMMIT;

