BEGIN;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

CREATE TABLE public.sqla_partition_audit_trail (
    id BIGINT GENERATED ALWAYS AS IDENTITY, 
    at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    table_schema TEXT NOT NULL, 
    table_name TEXT NOT NULL, 
    operation TEXT NOT NULL, 
    actor TEXT, 
    row_key JSONB, 
    diff JSONB, 
    PRIMARY KEY (id, at)
)
 PARTITION BY RANGE (at);

-- ACCESS EXCLUSIVE on sqla_partition_audit_trail: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS public.sqla_partition_audit_trail_p2026_11 PARTITION OF public.sqla_partition_audit_trail FOR VALUES FROM ('2026-11-01 00:00:00+00:00') TO ('2026-12-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on sqla_partition_audit_trail: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS public.sqla_partition_audit_trail_p2026_12 PARTITION OF public.sqla_partition_audit_trail FOR VALUES FROM ('2026-12-01 00:00:00+00:00') TO ('2027-01-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on sqla_partition_audit_trail: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS public.sqla_partition_audit_trail_p2027_01 PARTITION OF public.sqla_partition_audit_trail FOR VALUES FROM ('2027-01-01 00:00:00+00:00') TO ('2027-02-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on sqla_partition_audit_trail: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS public.sqla_partition_audit_trail_p2027_02 PARTITION OF public.sqla_partition_audit_trail FOR VALUES FROM ('2027-02-01 00:00:00+00:00') TO ('2027-03-01 00:00:00+00:00');

-- ACCESS EXCLUSIVE on sqla_partition_audit_trail: the parent is new in this transaction, nobody else can see it yet
CREATE TABLE IF NOT EXISTS public.sqla_partition_audit_trail_default PARTITION OF public.sqla_partition_audit_trail DEFAULT;

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
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'sqla_partition_audit_trail_p2026_11', 'public', 'sqla_partition_audit_trail', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'attached', NULL), ('public', 'sqla_partition_audit_trail_p2026_12', 'public', 'sqla_partition_audit_trail', '2026-12-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00', 'attached', NULL), ('public', 'sqla_partition_audit_trail_p2027_01', 'public', 'sqla_partition_audit_trail', '2027-01-01 00:00:00+00:00', '2027-02-01 00:00:00+00:00', 'attached', NULL), ('public', 'sqla_partition_audit_trail_p2027_02', 'public', 'sqla_partition_audit_trail', '2027-02-01 00:00:00+00:00', '2027-03-01 00:00:00+00:00', 'attached', NULL), ('public', 'sqla_partition_audit_trail_default', 'public', 'sqla_partition_audit_trail', NULL, NULL, 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();

-- ROW EXCLUSIVE on sqla_partition_policy: one row; other tables' policies are untouched
INSERT INTO sqla_partition.sqla_partition_policy (schema_name, table_name, policy, key_type) VALUES ('public', 'sqla_partition_audit_trail', '{"anchor": null, "archive_schema": null, "colocate_with": null, "column": "at", "default": true, "distributed_by": null, "epoch": null, "interval": "1 month", "keep_foreign_keys": false, "kind": "range", "naming": "sqla", "on_expire": "detach", "partition_prefix": null, "premake": 3, "retention": "12 months", "subpartition": null, "timezone": "UTC"}'::jsonb, 'timestamptz') ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, key_type = EXCLUDED.key_type, updated_at = now();

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on sqla_partition_audit_secret (only when it is new): the key of the digests that vouch for rows an update moves between partitions
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE TABLE IF NOT EXISTS sqla_partition.sqla_partition_audit_secret (secret text NOT NULL);
END
$do$;

-- no table lock: only the functions' owner reads it
REVOKE ALL ON TABLE sqla_partition.sqla_partition_audit_secret FROM PUBLIC;

-- ACCESS EXCLUSIVE on sqla_partition_audit_secret (only the first time): row-level security with no policy: roles that read every table (pg_read_all_data) read no row of it; its owner still does
DO $do$
BEGIN
  IF NOT (SELECT c.relrowsecurity FROM pg_catalog.pg_class AS c WHERE c.oid = 'sqla_partition.sqla_partition_audit_secret'::regclass) THEN
    ALTER TABLE sqla_partition.sqla_partition_audit_secret ENABLE ROW LEVEL SECURITY;
  END IF;
END
$do$;

-- ROW EXCLUSIVE on sqla_partition_audit_secret: once per database, from the server's strong random source
INSERT INTO sqla_partition.sqla_partition_audit_secret (secret) SELECT pg_catalog.gen_random_uuid()::text OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text WHERE NOT EXISTS (SELECT 1 FROM sqla_partition.sqla_partition_audit_secret);

-- no table lock: sets the audit columns of each written row, so writes that bypass the ORM are covered too
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_columns() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  actor pg_catalog.text := pg_catalog.current_setting(TG_ARGV[0], true);
BEGIN
  IF actor OPERATOR(pg_catalog.=) '' THEN
    actor := NULL;
  END IF;
  IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' AND actor IS NOT NULL
     AND TG_ARGV[1] OPERATOR(pg_catalog.<>) 'text'
     AND (actor OPERATOR(pg_catalog.=) pg_catalog.current_setting(
          pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), true)) IS NOT TRUE THEN
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'bigint'
       AND (actor OPERATOR(pg_catalog.!~) '^[+-]?[0-9]{1,19}$'
            OR pg_catalog.length(actor) OPERATOR(pg_catalog.>) 18
               AND (actor::pg_catalog.numeric OPERATOR(pg_catalog.<)
                    '-9223372036854775808'::pg_catalog.numeric
                    OR actor::pg_catalog.numeric OPERATOR(pg_catalog.>)
                    '9223372036854775807'::pg_catalog.numeric)) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.concat('set it per transaction: SELECT set_config(''',
                                       TG_ARGV[0], ''', ''42'', true)');
    END IF;
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'uuid'
       AND actor OPERATOR(pg_catalog.!~*)
           '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config(pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), actor, true);
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
    -- values the insert gives stay here: where the database owns the columns, the guard
    -- triggers after this one replace them (their WHEN finds them cheaply, in C)
    NEW.created_at := coalesce(NEW.created_at, pg_catalog.now());
    NEW.updated_at := coalesce(NEW.updated_at, NEW.created_at);
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.created_by := coalesce(NEW.created_by::pg_catalog.text, actor);
      NEW.updated_by := coalesce(NEW.updated_by::pg_catalog.text, actor,
                                 NEW.created_by::pg_catalog.text);
    END IF;
  ELSE
    NEW.updated_at := pg_catalog.now();
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.updated_by := actor;
    END IF;
  END IF;
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: checks the actor once per insert statement, where the row trigger is skipped
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_actor() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  actor pg_catalog.text := pg_catalog.current_setting(TG_ARGV[0], true);
BEGIN
  IF actor OPERATOR(pg_catalog.=) '' THEN
    actor := NULL;
  END IF;
  IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' AND actor IS NOT NULL
     AND TG_ARGV[1] OPERATOR(pg_catalog.<>) 'text'
     AND (actor OPERATOR(pg_catalog.=) pg_catalog.current_setting(
          pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), true)) IS NOT TRUE THEN
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'bigint'
       AND (actor OPERATOR(pg_catalog.!~) '^[+-]?[0-9]{1,19}$'
            OR pg_catalog.length(actor) OPERATOR(pg_catalog.>) 18
               AND (actor::pg_catalog.numeric OPERATOR(pg_catalog.<)
                    '-9223372036854775808'::pg_catalog.numeric
                    OR actor::pg_catalog.numeric OPERATOR(pg_catalog.>)
                    '9223372036854775807'::pg_catalog.numeric)) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.concat('set it per transaction: SELECT set_config(''',
                                       TG_ARGV[0], ''', ''42'', true)');
    END IF;
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'uuid'
       AND actor OPERATOR(pg_catalog.!~*)
           '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config(pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), actor, true);
  END IF;
  RETURN NULL;
END
$fn$;

-- no table lock: replaces the audit values an application gives where the database owns them
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
  giver text;
  row_key text;
BEGIN
  -- the table's owner, and its members, keep what they give: they could disable this
  IF pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = TG_RELID), 'MEMBER') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN  -- a row's creation is history
    NEW.created_at := OLD.created_at;
    IF TG_ARGV[2] = 'who' THEN
      NEW.created_by := OLD.created_by;
    END IF;
    RETURN NEW;
  END IF;
  IF TG_ARGV[2] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
  SELECT string_agg(coalesce(to_jsonb(NEW) ->> a.attname, ''), '|' ORDER BY a.attnum)
    INTO row_key
    FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF row_key IS NULL THEN
    row_key := (to_jsonb(NEW) - 'created_at' - 'created_by' - 'updated_at' - 'updated_by')::text;
  END IF;
  IF sqla_partition.sqla_partition_audit_moved(NEW.created_at::text, giver, row_key, pg_partition_root(TG_RELID)) THEN
    RETURN NEW;  -- a row an update moves here from another partition: its update vouched
  END IF;
  IF NEW.created_at IS DISTINCT FROM now() AND EXISTS (
      SELECT 1 FROM pg_partition_ancestors(TG_RELID) AS a
        JOIN pg_partitioned_table AS p ON p.partrelid = a.relid
        JOIN pg_attribute AS k ON k.attrelid = p.partrelid AND k.attname = 'created_at'
       WHERE k.attnum = ANY (p.partattrs::int2[])) THEN
    -- the row was routed by the value given: replacing it cannot move the row
    RAISE EXCEPTION 'sqla-partition: created_at of % is set by the database',
          pg_partition_root(TG_RELID)::regclass
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'leave created_at out of the INSERT (its default is now()); only the '
                   || 'table''s owner may give it, or the model may declare '
                   || 'Audit(trust_client=True)';
  END IF;
  NEW.created_at := now();
  NEW.updated_at := now();
  IF TG_ARGV[2] = 'who' THEN
    NEW.created_by := actor;
    NEW.updated_by := actor;
  END IF;
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: vouches for a row an update moves to another partition, whose insert there keeps its creation
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_move() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  giver text;
  row_key text;
BEGIN
  IF TG_ARGV[0] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
  SELECT string_agg(coalesce(to_jsonb(NEW) ->> a.attname, ''), '|' ORDER BY a.attnum)
    INTO row_key
    FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF row_key IS NULL THEN
    row_key := (to_jsonb(NEW) - 'created_at' - 'created_by' - 'updated_at' - 'updated_by')::text;
  END IF;
  PERFORM set_config('sqla_partition.audit_moving', md5((SELECT s.secret FROM sqla_partition.sqla_partition_audit_secret AS s LIMIT 1) || '|' || concat_ws('|', pg_current_xact_id(), pg_backend_pid(), statement_timestamp(), pg_partition_root(TG_RELID)::oid::text, NEW.created_at::text, giver, row_key)), true);
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: nobody may attach it to a table of theirs to vouch for rows they make up
REVOKE ALL ON FUNCTION sqla_partition.sqla_partition_audit_move() FROM PUBLIC;

-- no table lock: checks, as the owner of the key, that an insert is a moved row; answers only yes or no
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_moved(created text, giver text, row_key text, root regclass) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  digest text := md5((SELECT s.secret FROM sqla_partition.sqla_partition_audit_secret AS s LIMIT 1) || '|' || concat_ws('|', pg_current_xact_id(), pg_backend_pid(), statement_timestamp(), root::oid::text, created, giver, row_key));
BEGIN
  IF digest IS NOT NULL AND current_setting('sqla_partition.audit_moving', true) = digest THEN
    PERFORM set_config('sqla_partition.audit_moving', '', true);  -- once
    RETURN true;
  END IF;
  RETURN false;
END
$fn$;

-- no table lock: clears, at the end of an update that changed a partition key, a digest no moved row used
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_move_end() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM set_config('sqla_partition.audit_moving', '', true);
  RETURN NULL;
END
$fn$;

-- no table lock: the check of earlier versions, bound to no table; only this tool's guard function, replaced above, called it
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_moved(text, text, text);

-- no table lock: audited writes call one function there; no table in it grants anything
GRANT USAGE ON SCHEMA sqla_partition TO PUBLIC;

-- no table lock: the audit columns exist, or the migration stops here with their names
DO $do$
DECLARE
  missing text;
BEGIN
  SELECT pg_catalog.string_agg(w.c, ', ' ORDER BY w.n) INTO missing
    FROM pg_catalog.unnest(ARRAY['created_at', 'updated_at', 'created_by', 'updated_by']::pg_catalog.name[]) WITH ORDINALITY AS w (c, n)
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
          WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
            AND a.attname OPERATOR(pg_catalog.=) w.c AND NOT a.attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'sqla-partition: % has no column %', 'events', missing
      USING HINT = 'the audit keeps created_at and updated_at (created_by and updated_by too, unless who=False): add them before enable_audit (autogenerate adds them from the model)';
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on events and its partitions (only for a column without default): brief, bounded by lock_timeout, no rewrite: an insert that leaves the columns out gets the actor from the default, and the row trigger is skipped
DO $do$
DECLARE
  col pg_catalog.name;
BEGIN
  FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute AS a
      LEFT JOIN pg_catalog.pg_attrdef AS d
        ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
       AND d.adnum OPERATOR(pg_catalog.=) a.attnum
     WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['created_by', 'updated_by']::pg_catalog.name[])
       AND NOT a.attisdropped AND d.oid IS NULL
     ORDER BY a.attnum LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', 'events', col, 'SET DEFAULT (NULLIF(pg_catalog.current_setting(''app.user_id''::text, true), ''''::text))::bigint');
  END LOOP;
END
$do$;

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout; a partitioned table's partitions, later ones included, get the trigger too; rows whose columns their defaults filled skip it
CREATE OR REPLACE TRIGGER sqla_partition_audit BEFORE INSERT OR UPDATE ON events FOR EACH ROW WHEN (NEW.created_at IS NULL OR NEW.updated_at IS DISTINCT FROM pg_catalog.now() OR NEW.updated_by::text IS DISTINCT FROM nullif(pg_catalog.current_setting('app.user_id', true), '') OR NEW.created_by IS NULL AND nullif(pg_catalog.current_setting('app.user_id', true), '') IS NOT NULL OR NEW.updated_by IS NULL AND NEW.created_by IS NOT NULL) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_columns('app.user_id', 'bigint', 'who', 'database');

-- SHARE UPDATE EXCLUSIVE on events: records the audit settings, for autogenerate to compare with the model
COMMENT ON TRIGGER sqla_partition_audit ON events IS '{"audit": {"actor_setting": "app.user_id", "actor_type": "bigint", "soft_delete": false, "trail": true, "trail_retention": "12 months", "trust_client": false, "who": true}, "columns": ["id", "created_at", "body", "updated_at", "created_by", "updated_by"]}';

-- SHARE ROW EXCLUSIVE on events: brief; an actor that is not a user id stops the insert with a message, before the column's default would refuse it
CREATE OR REPLACE TRIGGER sqla_partition_audit_actor BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION sqla_partition.sqla_partition_audit_actor('app.user_id', 'bigint', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout
CREATE OR REPLACE TRIGGER sqla_partition_audit_guard_insert BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.created_at <> now() OR NEW.updated_at <> NEW.created_at OR NEW.created_by::text IS DISTINCT FROM nullif(current_setting('app.user_id', true), '') OR NEW.updated_by IS DISTINCT FROM NEW.created_by) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_guard('app.user_id', 'bigint', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout
CREATE OR REPLACE TRIGGER sqla_partition_audit_guard_update BEFORE UPDATE ON events FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_guard('app.user_id', 'bigint', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions (only when partitioned): brief; fires only for updates that change the partition key: the rows they move keep their creation
DO $do$
DECLARE
  target regclass := 'events'::regclass;
  changed text;
BEGIN
  SELECT string_agg(DISTINCT CASE WHEN k.n = 0 THEN 'OLD.* IS DISTINCT FROM NEW.*'
         ELSE format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', a.attname) END, ' OR ')
    INTO changed
    FROM pg_partition_tree(target) AS t
    JOIN pg_partitioned_table AS p ON p.partrelid = t.relid
   CROSS JOIN LATERAL unnest(p.partattrs::int2[]) AS k(n)
    LEFT JOIN pg_attribute AS a ON a.attrelid = p.partrelid AND a.attnum = k.n;
  IF changed IS NOT NULL THEN
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                   'WHEN (%s) EXECUTE FUNCTION %s(%L)', 'sqla_partition_audit_move', target, changed,
                   'sqla_partition.sqla_partition_audit_move', 'who');
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
                   'WHEN (%s) EXECUTE FUNCTION %s()', 'sqla_partition_audit_move_end', target, changed,
                   'sqla_partition.sqla_partition_audit_move_end');
  END IF;
END
$do$;

-- no table lock: writes events's trail function from its columns as they are now; it runs as its owner, so the application needs no right on the trail
DO $do$
DECLARE
  target regclass := 'events'::regclass;
  rowtype text;
  diff text;
  names text;
  n bigint;
BEGIN
  SELECT format('%I.%I', ns.nspname, c.relname) INTO rowtype FROM pg_class AS c
    JOIN pg_namespace AS ns ON ns.oid = c.relnamespace WHERE c.oid = target;
  SELECT string_agg(format(
           'CASE WHEN (p.o).%1$I%2$s IS DISTINCT FROM (p.n).%1$I%2$s '
           'THEN jsonb_build_object(%3$L, jsonb_build_array((p.o).%1$I, (p.n).%1$I)) '
           'ELSE ''{}''::jsonb END', a.attname,
           CASE WHEN coalesce(nullif(t.typbasetype, 0), t.oid)::regtype::text IN
                ('json', 'xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle')
                THEN '::text' ELSE '' END,
           a.attname), E'\n             || ' ORDER BY a.attnum),
         string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum),
         count(*)
    INTO diff, names, n
    FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
   WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname <> ALL (ARRAY['updated_at', 'updated_by']);
  EXECUTE replace(replace(replace(replace($template$
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_trail_82d50d9042de() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
  keys text[] := TG_ARGV[1:array_upper(TG_ARGV, 1)];
  others text[];  -- the columns that are not the key: removed from a row, it is its key
  unpaired boolean := false;
BEGIN
  IF (SELECT count(*) FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0
       AND NOT attisdropped AND attname = ANY (ARRAY[@names@]::name[])) = @count@ THEN
    -- inserts and deletes: each row whole, its key read from its columns (removing the
    -- others from the whole row cost the row's conversion twice)
    IF TG_OP = 'INSERT' THEN
      INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', actor, jsonb_build_object('id', x.id, 'created_at', x.created_at),
             to_jsonb(x)
        FROM new_rows AS x;
      RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
      INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'DELETE', actor, jsonb_build_object('id', x.id, 'created_at', x.created_at),
             to_jsonb(x)
        FROM old_rows AS x;
      RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM old_rows) = (SELECT count(*) FROM new_rows) THEN
      -- old and new images side by side, by position, as PostgreSQL stores them
      INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', actor, jsonb_build_object('id', (p.o).id, 'created_at', (p.o).created_at), d.diff
        FROM (SELECT unnest(ARRAY(SELECT x::@rowtype@ FROM old_rows AS x)) AS o,
                     unnest(ARRAY(SELECT x::@rowtype@ FROM new_rows AS x)) AS n) AS p
       CROSS JOIN LATERAL (SELECT @diff@ AS diff) AS d
       WHERE d.diff <> '{}';
      RETURN NULL;
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(k) INTO others
      FROM jsonb_object_keys((SELECT to_jsonb(x) FROM new_rows AS x LIMIT 1)) AS k
     WHERE k <> ALL (keys);
    INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', actor, r.j - others, r.j
      FROM (SELECT to_jsonb(x) AS j FROM new_rows AS x OFFSET 0) AS r;  -- converted once
    RETURN NULL;
  END IF;
  SELECT array_agg(k) INTO others
    FROM jsonb_object_keys((SELECT to_jsonb(x) FROM old_rows AS x LIMIT 1)) AS k
   WHERE k <> ALL (keys);
  IF TG_OP = 'UPDATE' THEN
    unpaired := (SELECT count(*) FROM old_rows) <> (SELECT count(*) FROM new_rows);
  END IF;
  IF TG_OP = 'DELETE' OR unpaired THEN
    -- deletes; and updates whose images do not pair up (a BEFORE INSERT trigger of the
    -- partition a row moved to dropped it): each old row as it was
    INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, actor, r.j - others, r.j
      FROM (SELECT to_jsonb(x) AS j FROM old_rows AS x OFFSET 0) AS r;  -- converted once
    RETURN NULL;
  END IF;
  -- the old and new images of the statement's rows are stored pairwise, in the same
  -- order, also for rows the update moved to another partition: one event per row.
  -- unnest() pairs them by position without a join, whatever the plan cache expects.
  INSERT INTO sqla_partition.sqla_partition_audit_trail (table_schema, table_name, operation, actor, row_key, diff)
  SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', actor, p.o - others, d.diff
    FROM unnest(ARRAY(SELECT to_jsonb(x) FROM old_rows AS x),
                ARRAY(SELECT to_jsonb(x) FROM new_rows AS x)) AS p(o, n)
   CROSS JOIN LATERAL (
         SELECT jsonb_object_agg(e.key, jsonb_build_array(p.o -> e.key, e.value)) AS diff
           FROM jsonb_each(p.n) AS e
          WHERE e.value IS DISTINCT FROM p.o -> e.key AND e.key <> ALL (ARRAY['updated_at', 'updated_by'])) AS d
   WHERE d.diff IS NOT NULL;
  RETURN NULL;
END
$fn$
$template$,
    '@rowtype@', rowtype), '@diff@', diff), '@names@', names), '@count@', n::text);
END
$do$;

-- no table lock: nobody else may attach the function to a table of theirs and write the trail
REVOKE ALL ON FUNCTION sqla_partition.sqla_partition_audit_trail_82d50d9042de() FROM PUBLIC;

-- SHARE ROW EXCLUSIVE on events: brief; statement-level, on the table itself: each statement's rows are recorded in one insert, under the table's name
CREATE OR REPLACE TRIGGER sqla_partition_audit_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqla_partition.sqla_partition_audit_trail_82d50d9042de('app.user_id', 'id', 'created_at');

-- SHARE ROW EXCLUSIVE on events: brief; statement-level, on the table itself: each statement's rows are recorded in one insert, under the table's name
CREATE OR REPLACE TRIGGER sqla_partition_audit_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqla_partition.sqla_partition_audit_trail_82d50d9042de('app.user_id', 'id', 'created_at');

-- SHARE ROW EXCLUSIVE on events: brief; statement-level, on the table itself: each statement's rows are recorded in one insert, under the table's name
CREATE OR REPLACE TRIGGER sqla_partition_audit_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sqla_partition.sqla_partition_audit_trail_82d50d9042de('app.user_id', 'id', 'created_at');

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on sqla_partition_audit_secret (only when it is new): the key of the digests that vouch for rows an update moves between partitions
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE TABLE IF NOT EXISTS sqla_partition.sqla_partition_audit_secret (secret text NOT NULL);
END
$do$;

-- no table lock: only the functions' owner reads it
REVOKE ALL ON TABLE sqla_partition.sqla_partition_audit_secret FROM PUBLIC;

-- ACCESS EXCLUSIVE on sqla_partition_audit_secret (only the first time): row-level security with no policy: roles that read every table (pg_read_all_data) read no row of it; its owner still does
DO $do$
BEGIN
  IF NOT (SELECT c.relrowsecurity FROM pg_catalog.pg_class AS c WHERE c.oid = 'sqla_partition.sqla_partition_audit_secret'::regclass) THEN
    ALTER TABLE sqla_partition.sqla_partition_audit_secret ENABLE ROW LEVEL SECURITY;
  END IF;
END
$do$;

-- ROW EXCLUSIVE on sqla_partition_audit_secret: once per database, from the server's strong random source
INSERT INTO sqla_partition.sqla_partition_audit_secret (secret) SELECT pg_catalog.gen_random_uuid()::text OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text WHERE NOT EXISTS (SELECT 1 FROM sqla_partition.sqla_partition_audit_secret);

-- no table lock: sets the audit columns of each written row, so writes that bypass the ORM are covered too
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_columns() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  actor pg_catalog.text := pg_catalog.current_setting(TG_ARGV[0], true);
BEGIN
  IF actor OPERATOR(pg_catalog.=) '' THEN
    actor := NULL;
  END IF;
  IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' AND actor IS NOT NULL
     AND TG_ARGV[1] OPERATOR(pg_catalog.<>) 'text'
     AND (actor OPERATOR(pg_catalog.=) pg_catalog.current_setting(
          pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), true)) IS NOT TRUE THEN
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'bigint'
       AND (actor OPERATOR(pg_catalog.!~) '^[+-]?[0-9]{1,19}$'
            OR pg_catalog.length(actor) OPERATOR(pg_catalog.>) 18
               AND (actor::pg_catalog.numeric OPERATOR(pg_catalog.<)
                    '-9223372036854775808'::pg_catalog.numeric
                    OR actor::pg_catalog.numeric OPERATOR(pg_catalog.>)
                    '9223372036854775807'::pg_catalog.numeric)) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.concat('set it per transaction: SELECT set_config(''',
                                       TG_ARGV[0], ''', ''42'', true)');
    END IF;
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'uuid'
       AND actor OPERATOR(pg_catalog.!~*)
           '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config(pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), actor, true);
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
    -- values the insert gives stay here: where the database owns the columns, the guard
    -- triggers after this one replace them (their WHEN finds them cheaply, in C)
    NEW.created_at := coalesce(NEW.created_at, pg_catalog.now());
    NEW.updated_at := coalesce(NEW.updated_at, NEW.created_at);
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.created_by := coalesce(NEW.created_by::pg_catalog.text, actor);
      NEW.updated_by := coalesce(NEW.updated_by::pg_catalog.text, actor,
                                 NEW.created_by::pg_catalog.text);
    END IF;
  ELSE
    NEW.updated_at := pg_catalog.now();
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.updated_by := actor;
    END IF;
  END IF;
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: checks the actor once per insert statement, where the row trigger is skipped
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_actor() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  actor pg_catalog.text := pg_catalog.current_setting(TG_ARGV[0], true);
BEGIN
  IF actor OPERATOR(pg_catalog.=) '' THEN
    actor := NULL;
  END IF;
  IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' AND actor IS NOT NULL
     AND TG_ARGV[1] OPERATOR(pg_catalog.<>) 'text'
     AND (actor OPERATOR(pg_catalog.=) pg_catalog.current_setting(
          pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), true)) IS NOT TRUE THEN
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'bigint'
       AND (actor OPERATOR(pg_catalog.!~) '^[+-]?[0-9]{1,19}$'
            OR pg_catalog.length(actor) OPERATOR(pg_catalog.>) 18
               AND (actor::pg_catalog.numeric OPERATOR(pg_catalog.<)
                    '-9223372036854775808'::pg_catalog.numeric
                    OR actor::pg_catalog.numeric OPERATOR(pg_catalog.>)
                    '9223372036854775807'::pg_catalog.numeric)) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.concat('set it per transaction: SELECT set_config(''',
                                       TG_ARGV[0], ''', ''42'', true)');
    END IF;
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'uuid'
       AND actor OPERATOR(pg_catalog.!~*)
           '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config(pg_catalog.concat('sqla_partition.audit_actor_', TG_ARGV[1]), actor, true);
  END IF;
  RETURN NULL;
END
$fn$;

-- no table lock: replaces the audit values an application gives where the database owns them
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
  giver text;
  row_key text;
BEGIN
  -- the table's owner, and its members, keep what they give: they could disable this
  IF pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = TG_RELID), 'MEMBER') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN  -- a row's creation is history
    NEW.created_at := OLD.created_at;
    IF TG_ARGV[2] = 'who' THEN
      NEW.created_by := OLD.created_by;
    END IF;
    RETURN NEW;
  END IF;
  IF TG_ARGV[2] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
  SELECT string_agg(coalesce(to_jsonb(NEW) ->> a.attname, ''), '|' ORDER BY a.attnum)
    INTO row_key
    FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF row_key IS NULL THEN
    row_key := (to_jsonb(NEW) - 'created_at' - 'created_by' - 'updated_at' - 'updated_by')::text;
  END IF;
  IF sqla_partition.sqla_partition_audit_moved(NEW.created_at::text, giver, row_key, pg_partition_root(TG_RELID)) THEN
    RETURN NEW;  -- a row an update moves here from another partition: its update vouched
  END IF;
  IF NEW.created_at IS DISTINCT FROM now() AND EXISTS (
      SELECT 1 FROM pg_partition_ancestors(TG_RELID) AS a
        JOIN pg_partitioned_table AS p ON p.partrelid = a.relid
        JOIN pg_attribute AS k ON k.attrelid = p.partrelid AND k.attname = 'created_at'
       WHERE k.attnum = ANY (p.partattrs::int2[])) THEN
    -- the row was routed by the value given: replacing it cannot move the row
    RAISE EXCEPTION 'sqla-partition: created_at of % is set by the database',
          pg_partition_root(TG_RELID)::regclass
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'leave created_at out of the INSERT (its default is now()); only the '
                   || 'table''s owner may give it, or the model may declare '
                   || 'Audit(trust_client=True)';
  END IF;
  NEW.created_at := now();
  NEW.updated_at := now();
  IF TG_ARGV[2] = 'who' THEN
    NEW.created_by := actor;
    NEW.updated_by := actor;
  END IF;
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: vouches for a row an update moves to another partition, whose insert there keeps its creation
DO $do$
BEGIN
  IF pg_catalog.to_regnamespace('sqla_partition') IS NULL THEN
    CREATE SCHEMA IF NOT EXISTS sqla_partition;
  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'MEMBER') THEN
    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does not act as, so the tool''s objects would be its to replace; give it to the tables'' owner (ALTER SCHEMA % OWNER TO ...) or drop it', 'sqla_partition', (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.to_regnamespace('sqla_partition')), 'sqla_partition'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_move() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  giver text;
  row_key text;
BEGIN
  IF TG_ARGV[0] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
  SELECT string_agg(coalesce(to_jsonb(NEW) ->> a.attname, ''), '|' ORDER BY a.attnum)
    INTO row_key
    FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF row_key IS NULL THEN
    row_key := (to_jsonb(NEW) - 'created_at' - 'created_by' - 'updated_at' - 'updated_by')::text;
  END IF;
  PERFORM set_config('sqla_partition.audit_moving', md5((SELECT s.secret FROM sqla_partition.sqla_partition_audit_secret AS s LIMIT 1) || '|' || concat_ws('|', pg_current_xact_id(), pg_backend_pid(), statement_timestamp(), pg_partition_root(TG_RELID)::oid::text, NEW.created_at::text, giver, row_key)), true);
  RETURN NEW;
END
$fn$;
END
$do$;

-- no table lock: nobody may attach it to a table of theirs to vouch for rows they make up
REVOKE ALL ON FUNCTION sqla_partition.sqla_partition_audit_move() FROM PUBLIC;

-- no table lock: checks, as the owner of the key, that an insert is a moved row; answers only yes or no
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_moved(created text, giver text, row_key text, root regclass) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  digest text := md5((SELECT s.secret FROM sqla_partition.sqla_partition_audit_secret AS s LIMIT 1) || '|' || concat_ws('|', pg_current_xact_id(), pg_backend_pid(), statement_timestamp(), root::oid::text, created, giver, row_key));
BEGIN
  IF digest IS NOT NULL AND current_setting('sqla_partition.audit_moving', true) = digest THEN
    PERFORM set_config('sqla_partition.audit_moving', '', true);  -- once
    RETURN true;
  END IF;
  RETURN false;
END
$fn$;

-- no table lock: clears, at the end of an update that changed a partition key, a digest no moved row used
CREATE OR REPLACE FUNCTION sqla_partition.sqla_partition_audit_move_end() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM set_config('sqla_partition.audit_moving', '', true);
  RETURN NULL;
END
$fn$;

-- no table lock: the check of earlier versions, bound to no table; only this tool's guard function, replaced above, called it
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_moved(text, text, text);

-- no table lock: audited writes call one function there; no table in it grants anything
GRANT USAGE ON SCHEMA sqla_partition TO PUBLIC;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_insert ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_update ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_delete ON events;

-- no table lock: the table's own trail function, unused once its triggers are gone
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS sqla_partition.sqla_partition_audit_trail_82d50d9042de();

-- ACCESS EXCLUSIVE on events and its partitions (only for a column with that default): brief, bounded by lock_timeout; the actor's defaults go with the trigger that relied on them
DO $do$
DECLARE
  col pg_catalog.name;
BEGIN
  FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute AS a
      LEFT JOIN pg_catalog.pg_attrdef AS d
        ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
       AND d.adnum OPERATOR(pg_catalog.=) a.attnum
     WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['created_by', 'updated_by']::pg_catalog.name[])
       AND NOT a.attisdropped AND pg_catalog.strpos(pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'current_setting(''app.user_id''::text, true)') OPERATOR(pg_catalog.>) 0
     ORDER BY a.attnum LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', 'events', col, 'DROP DEFAULT');
  END LOOP;
END
$do$;

-- no table lock: the audit columns exist, or the migration stops here with their names
DO $do$
DECLARE
  missing text;
BEGIN
  SELECT pg_catalog.string_agg(w.c, ', ' ORDER BY w.n) INTO missing
    FROM pg_catalog.unnest(ARRAY['created_at', 'updated_at', 'created_by', 'updated_by']::pg_catalog.name[]) WITH ORDINALITY AS w (c, n)
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
          WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
            AND a.attname OPERATOR(pg_catalog.=) w.c AND NOT a.attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'sqla-partition: % has no column %', 'events', missing
      USING HINT = 'the audit keeps created_at and updated_at (created_by and updated_by too, unless who=False): add them before enable_audit (autogenerate adds them from the model)';
  END IF;
END
$do$;

-- ACCESS EXCLUSIVE on events and its partitions (only for a column without default): brief, bounded by lock_timeout, no rewrite: an insert that leaves the columns out gets the actor from the default, and the row trigger is skipped
DO $do$
DECLARE
  col pg_catalog.name;
BEGIN
  FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute AS a
      LEFT JOIN pg_catalog.pg_attrdef AS d
        ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
       AND d.adnum OPERATOR(pg_catalog.=) a.attnum
     WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['created_by', 'updated_by']::pg_catalog.name[])
       AND NOT a.attisdropped AND d.oid IS NULL
     ORDER BY a.attnum LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', 'events', col, 'SET DEFAULT (NULLIF(pg_catalog.current_setting(''app.actor''::text, true), ''''::text))::uuid');
  END LOOP;
END
$do$;

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout; a partitioned table's partitions, later ones included, get the trigger too; rows whose columns their defaults filled skip it
CREATE OR REPLACE TRIGGER sqla_partition_audit BEFORE INSERT OR UPDATE ON events FOR EACH ROW WHEN (NEW.created_at IS NULL OR NEW.updated_at IS DISTINCT FROM pg_catalog.now() OR NEW.updated_by::text IS DISTINCT FROM nullif(pg_catalog.current_setting('app.actor', true), '') OR NEW.created_by IS NULL AND nullif(pg_catalog.current_setting('app.actor', true), '') IS NOT NULL OR NEW.updated_by IS NULL AND NEW.created_by IS NOT NULL) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_columns('app.actor', 'uuid', 'who', 'database');

-- SHARE UPDATE EXCLUSIVE on events: records the audit settings, for autogenerate to compare with the model
COMMENT ON TRIGGER sqla_partition_audit ON events IS '{"audit": {"actor_setting": "app.actor", "actor_type": "uuid", "soft_delete": false, "trail": false, "trail_retention": "12 months", "trust_client": false, "who": true}, "columns": []}';

-- SHARE ROW EXCLUSIVE on events: brief; an actor that is not a user id stops the insert with a message, before the column's default would refuse it
CREATE OR REPLACE TRIGGER sqla_partition_audit_actor BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION sqla_partition.sqla_partition_audit_actor('app.actor', 'uuid', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout
CREATE OR REPLACE TRIGGER sqla_partition_audit_guard_insert BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.created_at <> now() OR NEW.updated_at <> NEW.created_at OR NEW.created_by::text IS DISTINCT FROM nullif(current_setting('app.actor', true), '') OR NEW.updated_by IS DISTINCT FROM NEW.created_by) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_guard('app.actor', 'uuid', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions: brief; writes wait for it, bounded by lock_timeout
CREATE OR REPLACE TRIGGER sqla_partition_audit_guard_update BEFORE UPDATE ON events FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by) EXECUTE FUNCTION sqla_partition.sqla_partition_audit_guard('app.actor', 'uuid', 'who', 'database');

-- SHARE ROW EXCLUSIVE on events and its partitions (only when partitioned): brief; fires only for updates that change the partition key: the rows they move keep their creation
DO $do$
DECLARE
  target regclass := 'events'::regclass;
  changed text;
BEGIN
  SELECT string_agg(DISTINCT CASE WHEN k.n = 0 THEN 'OLD.* IS DISTINCT FROM NEW.*'
         ELSE format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', a.attname) END, ' OR ')
    INTO changed
    FROM pg_partition_tree(target) AS t
    JOIN pg_partitioned_table AS p ON p.partrelid = t.relid
   CROSS JOIN LATERAL unnest(p.partattrs::int2[]) AS k(n)
    LEFT JOIN pg_attribute AS a ON a.attrelid = p.partrelid AND a.attnum = k.n;
  IF changed IS NOT NULL THEN
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                   'WHEN (%s) EXECUTE FUNCTION %s(%L)', 'sqla_partition_audit_move', target, changed,
                   'sqla_partition.sqla_partition_audit_move', 'who');
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
                   'WHEN (%s) EXECUTE FUNCTION %s()', 'sqla_partition_audit_move_end', target, changed,
                   'sqla_partition.sqla_partition_audit_move_end');
  END IF;
END
$do$;

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 5000;

-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_actor ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_guard_insert ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_guard_update ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_move ON events;

-- ACCESS EXCLUSIVE on events and its partitions: brief, bounded by lock_timeout; the audit columns keep their values
DROP TRIGGER IF EXISTS sqla_partition_audit_move_end ON events;

-- ACCESS EXCLUSIVE on events and its partitions (only for a column with that default): brief, bounded by lock_timeout; the actor's defaults go with the trigger that relied on them
DO $do$
DECLARE
  col pg_catalog.name;
BEGIN
  FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute AS a
      LEFT JOIN pg_catalog.pg_attrdef AS d
        ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
       AND d.adnum OPERATOR(pg_catalog.=) a.attnum
     WHERE a.attrelid OPERATOR(pg_catalog.=) 'events'::regclass
       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['created_by', 'updated_by']::pg_catalog.name[])
       AND NOT a.attisdropped AND pg_catalog.strpos(pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'current_setting(''app.actor''::text, true)') OPERATOR(pg_catalog.>) 0
     ORDER BY a.attnum LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', 'events', col, 'DROP DEFAULT');
  END LOOP;
END
$do$;

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

-- no lock: back to the session's setting
SET LOCAL lock_timeout TO DEFAULT;

-- no lock: back to the session's setting
SET LOCAL statement_timeout TO DEFAULT;

COMMIT;

