-- A read-only ClickHouse user for BI tools (Grafana, Superset, Metabase) on a ClickHouse server.
-- Run once as an admin, with your own password:
--   clickhouse-client --multiquery < deploy/clickhouse/bi-user.sql, after replacing 'change-me'
--   below with a strong password. Not for chDB: the embedded engine has no users; there,
--   use the analytics server (http://127.0.0.1:8125) or the sink's read-only POST /query.
--
-- readonly = 1: SELECT only; no INSERT/ALTER/DROP/CREATE and no SET (so the limits below hold).
-- The limits keep a dashboard from starving the ingest: 60 s per query, 10M result rows, 8 GB.
CREATE USER IF NOT EXISTS footfall_bi
    IDENTIFIED WITH sha256_password BY 'change-me'
    SETTINGS
        readonly = 1,
        max_execution_time = 60,
        max_result_rows = 10000000,
        result_overflow_mode = 'throw',
        max_memory_usage = 8000000000;

-- Everything in the footfall database: events, the views (events_resolved, identity_map,
-- identity_conflicts) and identity_links. Functions (footfall_channel, ...) are SQL UDFs and
-- need no grant.
GRANT SELECT ON footfall.* TO footfall_bi;
