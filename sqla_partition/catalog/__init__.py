"""What the live database holds: one snapshot of its partitioning, read in a constant number of
queries, and the connections the cron path opens (psycopg only)."""
