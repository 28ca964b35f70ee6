-- public.audit_log

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on audit_log: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.audit_log_p2027_03 (LIKE public.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE UPDATE EXCLUSIVE on audit_log, ACCESS EXCLUSIVE on audit_log_p2027_03: reads and writes of audit_log continue; audit_log_p2027_03 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it
ALTER TABLE public.audit_log ATTACH PARTITION public.audit_log_p2027_03 FOR VALUES FROM ('2027-03-01 00:00:00+00:00') TO ('2027-04-01 00:00:00+00:00');
-- ACCESS SHARE on audit_log: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.audit_log_p2027_04 (LIKE public.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE UPDATE EXCLUSIVE on audit_log, ACCESS EXCLUSIVE on audit_log_p2027_04: reads and writes of audit_log continue; audit_log_p2027_04 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it
ALTER TABLE public.audit_log ATTACH PARTITION public.audit_log_p2027_04 FOR VALUES FROM ('2027-04-01 00:00:00+00:00') TO ('2027-05-01 00:00:00+00:00');
-- ACCESS SHARE on audit_log: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.audit_log_p2027_05 (LIKE public.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE UPDATE EXCLUSIVE on audit_log, ACCESS EXCLUSIVE on audit_log_p2027_05: reads and writes of audit_log continue; audit_log_p2027_05 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it
ALTER TABLE public.audit_log ATTACH PARTITION public.audit_log_p2027_05 FOR VALUES FROM ('2027-05-01 00:00:00+00:00') TO ('2027-06-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: 3 rows, in the same transaction as the partitions they record
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'audit_log_p2027_03', 'public', 'audit_log', '2027-03-01 00:00:00+00:00', '2027-04-01 00:00:00+00:00', 'attached', NULL), ('public', 'audit_log_p2027_04', 'public', 'audit_log', '2027-04-01 00:00:00+00:00', '2027-05-01 00:00:00+00:00', 'attached', NULL), ('public', 'audit_log_p2027_05', 'public', 'audit_log', '2027-05-01 00:00:00+00:00', '2027-06-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET synchronous_commit = off;
-- SHARE UPDATE EXCLUSIVE on audit_log, ACCESS EXCLUSIVE on audit_log_p2026_11: reads and writes of audit_log continue, audit_log_p2026_11 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE public.audit_log DETACH PARTITION public.audit_log_p2026_11 CONCURRENTLY;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'audit_log_p2026_11', 'public', 'audit_log', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;
-- no lock: back to the role's setting
RESET lock_timeout;
-- no lock: back to the role's setting
RESET statement_timeout;
-- no lock: back to the role's setting
RESET synchronous_commit;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS EXCLUSIVE on audit_log_p2026_11: the table is no longer a partition and the policy (on_expire='drop') or the migration asks for its rows to go
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS public.audit_log_p2026_11;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the table it recorded is gone
DELETE FROM sqla_partition.sqla_partition_partitions WHERE partition_schema = 'public' AND partition_name = 'audit_log_p2026_11';
COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET synchronous_commit = off;
-- SHARE UPDATE EXCLUSIVE on audit_log, ACCESS EXCLUSIVE on audit_log_p2026_12: reads and writes of audit_log continue, audit_log_p2026_12 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE public.audit_log DETACH PARTITION public.audit_log_p2026_12 CONCURRENTLY;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'audit_log_p2026_12', 'public', 'audit_log', '2026-12-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;
-- no lock: back to the role's setting
RESET lock_timeout;
-- no lock: back to the role's setting
RESET statement_timeout;
-- no lock: back to the role's setting
RESET synchronous_commit;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS EXCLUSIVE on audit_log_p2026_12: the table is no longer a partition and the policy (on_expire='drop') or the migration asks for its rows to go
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS public.audit_log_p2026_12;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the table it recorded is gone
DELETE FROM sqla_partition.sqla_partition_partitions WHERE partition_schema = 'public' AND partition_name = 'audit_log_p2026_12';
COMMIT;

-- public.clicks

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on clicks: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.clicks_p2027_03 (LIKE public.clicks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE UPDATE EXCLUSIVE on clicks, ACCESS EXCLUSIVE on clicks_p2027_03: reads and writes of clicks continue; clicks_p2027_03 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it
ALTER TABLE public.clicks ATTACH PARTITION public.clicks_p2027_03 FOR VALUES FROM ('2027-03-01 00:00:00+00:00') TO ('2027-04-01 00:00:00+00:00');
-- ACCESS SHARE on clicks: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.clicks_p2027_04 (LIKE public.clicks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE UPDATE EXCLUSIVE on clicks, ACCESS EXCLUSIVE on clicks_p2027_04: reads and writes of clicks continue; clicks_p2027_04 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it
ALTER TABLE public.clicks ATTACH PARTITION public.clicks_p2027_04 FOR VALUES FROM ('2027-04-01 00:00:00+00:00') TO ('2027-05-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: 2 rows, in the same transaction as the partitions they record
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'clicks_p2027_03', 'public', 'clicks', '2027-03-01 00:00:00+00:00', '2027-04-01 00:00:00+00:00', 'attached', NULL), ('public', 'clicks_p2027_04', 'public', 'clicks', '2027-04-01 00:00:00+00:00', '2027-05-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET synchronous_commit = off;
-- SHARE UPDATE EXCLUSIVE on clicks, ACCESS EXCLUSIVE on clicks_p2026_11: reads and writes of clicks continue, clicks_p2026_11 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE public.clicks DETACH PARTITION public.clicks_p2026_11 CONCURRENTLY;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'clicks_p2026_11', 'public', 'clicks', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;
-- no lock: back to the role's setting
RESET lock_timeout;
-- no lock: back to the role's setting
RESET statement_timeout;
-- no lock: back to the role's setting
RESET synchronous_commit;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- no table lock: the archive schema for detached partitions, owned by the table's owner
DO $do$
DECLARE
  owner text;
  super boolean;
BEGIN
  CREATE SCHEMA IF NOT EXISTS archive;
  SELECT pg_get_userbyid(n.nspowner), r.rolsuper INTO owner, super FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'archive';
  IF owner <> current_user AND NOT super THEN
    RAISE EXCEPTION 'sqla-partition: the archive schema % belongs to %, not to the table''s owner %: archives are never moved where another role could drop them', 'archive', owner, current_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$do$;
-- ACCESS EXCLUSIVE on clicks_p2026_11: the table is detached, the application no longer reads it; the policy's archive_schema asks for it to move there
-- squawk-ignore ban-set-schema
ALTER TABLE public.clicks_p2026_11 SET SCHEMA archive;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the archive is found where it was moved
UPDATE sqla_partition.sqla_partition_partitions SET partition_schema = 'archive' WHERE partition_schema = 'public' AND partition_name = 'clicks_p2026_11';
COMMIT;

-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET synchronous_commit = off;
-- SHARE UPDATE EXCLUSIVE on clicks, ACCESS EXCLUSIVE on clicks_p2026_12: reads and writes of clicks continue, clicks_p2026_12 (expired) is locked briefly; PostgreSQL runs it outside a transaction, and a rerun after an interruption finishes it (DETACH … FINALIZE)
-- squawk-ignore prefer-robust-stmts
ALTER TABLE public.clicks DETACH PARTITION public.clicks_p2026_12 CONCURRENTLY;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'clicks_p2026_12', 'public', 'clicks', '2026-12-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;
-- no lock: back to the role's setting
RESET lock_timeout;
-- no lock: back to the role's setting
RESET statement_timeout;
-- no lock: back to the role's setting
RESET synchronous_commit;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- no table lock: the archive schema for detached partitions, owned by the table's owner
DO $do$
DECLARE
  owner text;
  super boolean;
BEGIN
  CREATE SCHEMA IF NOT EXISTS archive;
  SELECT pg_get_userbyid(n.nspowner), r.rolsuper INTO owner, super FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'archive';
  IF owner <> current_user AND NOT super THEN
    RAISE EXCEPTION 'sqla-partition: the archive schema % belongs to %, not to the table''s owner %: archives are never moved where another role could drop them', 'archive', owner, current_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$do$;
-- ACCESS EXCLUSIVE on clicks_p2026_12: the table is detached, the application no longer reads it; the policy's archive_schema asks for it to move there
-- squawk-ignore ban-set-schema
ALTER TABLE public.clicks_p2026_12 SET SCHEMA archive;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the archive is found where it was moved
UPDATE sqla_partition.sqla_partition_partitions SET partition_schema = 'archive' WHERE partition_schema = 'public' AND partition_name = 'clicks_p2026_12';
COMMIT;

-- public.events

-- sqla-partition: events has DEFAULT partition events_default

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on events: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.events_p2027_03 (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE ROW EXCLUSIVE on events: writes to events wait here until COMMIT and then route to the new partition (an insert already routed to events_default would fail after the ATTACH); reads go on
LOCK TABLE ONLY public.events IN SHARE ROW EXCLUSIVE MODE;
-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first, after the parent's lock
LOCK TABLE public.events_default IN ACCESS EXCLUSIVE MODE;
-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_03 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2027_03 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE public.events ATTACH PARTITION public.events_p2027_03 FOR VALUES FROM ('2027-03-01 00:00:00+00:00') TO ('2027-04-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'events_p2027_03', 'public', 'events', '2027-03-01 00:00:00+00:00', '2027-04-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on events: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.events_p2027_04 (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE ROW EXCLUSIVE on events: writes to events wait here until COMMIT and then route to the new partition (an insert already routed to events_default would fail after the ATTACH); reads go on
LOCK TABLE ONLY public.events IN SHARE ROW EXCLUSIVE MODE;
-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first, after the parent's lock
LOCK TABLE public.events_default IN ACCESS EXCLUSIVE MODE;
-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_04 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2027_04 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE public.events ATTACH PARTITION public.events_p2027_04 FOR VALUES FROM ('2027-04-01 00:00:00+00:00') TO ('2027-05-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'events_p2027_04', 'public', 'events', '2027-04-01 00:00:00+00:00', '2027-05-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on events: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.events_p2027_05 (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- ACCESS EXCLUSIVE on events: reads and writes of events wait here until COMMIT, then see the moved rows in the new partition (planned earlier, they would look for them in events_default only, after they left it); roll's --max-move-rows bounds the rows moved meanwhile
LOCK TABLE ONLY public.events IN ACCESS EXCLUSIVE MODE;
-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first so no row of the new range slips in between the move and the ATTACH
LOCK TABLE public.events_default IN ACCESS EXCLUSIVE MODE;
-- ROW EXCLUSIVE on events_default and events_p2027_05: moves rows of the new range out of the DEFAULT partition, atomically; writes to the parent wait meanwhile (roll's --max-move-rows bounds how many rows that is)
WITH moved AS (DELETE FROM public.events_default WHERE created_at >= '2027-05-01 00:00:00+00:00'::timestamptz AND created_at < '2027-06-01 00:00:00+00:00'::timestamptz RETURNING *) INSERT INTO public.events_p2027_05 (id, created_at, note, account_id) SELECT id, created_at, note, account_id FROM moved;
-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_05 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2027_05 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE public.events ATTACH PARTITION public.events_p2027_05 FOR VALUES FROM ('2027-05-01 00:00:00+00:00') TO ('2027-06-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'events_p2027_05', 'public', 'events', '2027-05-01 00:00:00+00:00', '2027-06-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS SHARE on events: only reads the parent's definition; reads and writes continue. A table that already has this name is never taken as the partition: the step stops
-- squawk-ignore prefer-robust-stmts
CREATE TABLE public.events_p2027_06 (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED);
-- SHARE ROW EXCLUSIVE on events: writes to events wait here until COMMIT and then route to the new partition (an insert already routed to events_default would fail after the ATTACH); reads go on
LOCK TABLE ONLY public.events IN SHARE ROW EXCLUSIVE MODE;
-- ACCESS EXCLUSIVE on events_default: ATTACH below needs it anyway; taken first, after the parent's lock
LOCK TABLE public.events_default IN ACCESS EXCLUSIVE MODE;
-- sqla-partition: events has DEFAULT partition events_default
-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_06 and events_default: reads of events continue, its writers wait at the lock above until COMMIT; events_p2027_06 is not in use yet: its scan reads only rows just moved in, or a CHECK spares it; events_default is scanned for rows of this range, kept small by moving them out
ALTER TABLE public.events ATTACH PARTITION public.events_p2027_06 FOR VALUES FROM ('2027-06-01 00:00:00+00:00') TO ('2027-07-01 00:00:00+00:00');
-- ROW EXCLUSIVE on sqla_partition_partitions: one row, in the same transaction as the partition it records
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'events_p2027_06', 'public', 'events', '2027-06-01 00:00:00+00:00', '2027-07-01 00:00:00+00:00', 'attached', NULL) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at, created_at = now();
COMMIT;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- sqla-partition: events has DEFAULT partition events_default
-- ACCESS EXCLUSIVE on events and events_p2026_11 and events_default: brief; CONCURRENTLY is refused while events_default (a DEFAULT partition) exists, and lock_timeout bounds the wait so the queue behind it stays short
-- squawk-ignore require-concurrent-partition-detach
ALTER TABLE public.events DETACH PARTITION public.events_p2026_11;
-- ROW EXCLUSIVE on sqla_partition_partitions: one row: the partition becomes an archive that only an explicit reattach puts back
INSERT INTO sqla_partition.sqla_partition_partitions (partition_schema, partition_name, schema_name, table_name, lower_bound, upper_bound, state, detached_at) VALUES ('public', 'events_p2026_11', 'public', 'events', '2026-11-01 00:00:00+00:00', '2026-12-01 00:00:00+00:00', 'detached', now()) ON CONFLICT (partition_schema, partition_name) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, state = EXCLUDED.state, detached_at = EXCLUDED.detached_at;
COMMIT;

BEGIN;
-- no lock: bounds every lock wait below, so no reader or writer queues behind this DDL for longer
SET LOCAL lock_timeout = 500;
-- no lock: bounds how long any statement below may run
SET LOCAL statement_timeout = 600000;
-- no lock: a crash right after COMMIT may forget this step; the next roll does it again
SET LOCAL synchronous_commit = off;
-- ACCESS EXCLUSIVE on events_p2026_11 and on each table its foreign keys reference: brief: events_p2026_11 is an archive nobody writes; readers and writers of the referenced tables wait at most lock_timeout for it
DO $do$
DECLARE
  fk record;
BEGIN
  FOR fk IN SELECT c.conname FROM pg_catalog.pg_constraint c
             WHERE c.conrelid = pg_catalog.to_regclass('public.events_p2026_11') AND c.contype = 'f'
               AND c.conparentid = 0
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.conrelid) LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', 'public.events_p2026_11', fk.conname);
  END LOOP;
END
$do$;
COMMIT;
