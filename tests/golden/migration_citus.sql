BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

CREATE TABLE accounts (
    tenant_id BIGINT NOT NULL, 
    id BIGINT NOT NULL, 
    name TEXT, 
    PRIMARY KEY (tenant_id, id)
);

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
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'accounts', '{"colocate_with": "none", "column": "tenant_id", "distributed": true, "kind": "hash", "partition_prefix": null, "partitions": 16}'::jsonb, 'hash') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on accounts (Citus): Citus creates the shards on the workers; the table is new in this migration, so there are no rows to copy and nobody waits
SELECT create_distributed_table('accounts', 'tenant_id', colocate_with => 'none', shard_count => 16);

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

CREATE TABLE events (
    tenant_id BIGINT NOT NULL, 
    id BIGINT NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    PRIMARY KEY (tenant_id, id, created_at)
)
 PARTITION BY RANGE (created_at);

-- ACCESS EXCLUSIVE on events: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS events_p2026_11 PARTITION OF events FOR VALUES FROM ('2026-11-01 00:00:00+00:00') TO ('2026-12-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on events: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS events_p2026_12 PARTITION OF events FOR VALUES FROM ('2026-12-01 00:00:00+00:00') TO ('2027-01-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on events: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS events_p2027_01 PARTITION OF events FOR VALUES FROM ('2027-01-01 00:00:00+00:00') TO ('2027-02-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on events: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS events_p2027_02 PARTITION OF events FOR VALUES FROM ('2027-02-01 00:00:00+00:00') TO ('2027-03-01 00:00:00+00:00');

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

-- ROW EXCLUSIVE on sqla_partition_partitions: 4 rows, in the same transaction as the partitions they record
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES (current_schema(), 'events_p2026_11', current_schema(), 'events', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'events_p2026_12', current_schema(), 'events', '2026-12-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'events_p2027_01', current_schema(), 'events', '2027-01-01 00:00:00+00:00', '2027-02-01 00:00:00+00:00', 'attached', NULL), (current_schema(), 'events_p2027_02', current_schema(), 'events', '2027-02-01 00:00:00+00:00', '2027-03-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES (current_schema(), 'events', '{"anchor": null, "archive_schema": null, "colocate_with": "accounts", "column": "created_at", "default": false, "distributed_by": "tenant_id", "epoch": null, "interval": "1 month", "keep_foreign_keys": false, "kind": "range", "naming": "sqla", "on_expire": "detach", "partition_prefix": null, "premake": 3, "retention": "3 months", "subpartition": null, "timezone": "UTC"}'::jsonb, 'timestamptz') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on events (Citus): Citus creates the shards on the workers; the table is new in this migration, so there are no rows to copy and nobody waits
SELECT create_distributed_table('events', 'tenant_id', colocate_with => 'accounts');

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

CREATE TABLE countries (
    code TEXT NOT NULL, 
    name TEXT NOT NULL, 
    PRIMARY KEY (code)
);

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on countries (Citus): Citus copies the table to every node; a reference table is small by declaration
SELECT create_reference_table('countries');

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on countries (Citus): Citus copies every row back to the coordinator: the table is blocked for that time, as the downgrade asks
SELECT undistribute_table('countries');

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

