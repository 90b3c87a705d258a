-- Generated from deploy/clickhouse/migrations/0005_person_keys.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_anon_key UInt64 MATERIALIZED
        if(footfall_valid_id(anonymous_id), cityHash64('a', anonymous_id), 0),
    ADD COLUMN IF NOT EXISTS ff_user_key UInt64 MATERIALIZED
        if(footfall_valid_id(user_id), cityHash64('u', user_id), 0);
ALTER TABLE events ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_anon_key UInt64 MATERIALIZED
        if(footfall_valid_id(anonymous_id), cityHash64('a', anonymous_id), 0),
    ADD COLUMN IF NOT EXISTS ff_user_key UInt64 MATERIALIZED
        if(footfall_valid_id(user_id), cityHash64('u', user_id), 0);
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_anon_key SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_user_key SETTINGS mutations_sync = 2;
ALTER TABLE identity_links_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS anon_key UInt64 MATERIALIZED cityHash64('a', anonymous_id),
    ADD COLUMN IF NOT EXISTS user_key UInt64 MATERIALIZED cityHash64('u', user_id);
ALTER TABLE identity_links ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS anon_key UInt64 MATERIALIZED cityHash64('a', anonymous_id),
    ADD COLUMN IF NOT EXISTS user_key UInt64 MATERIALIZED cityHash64('u', user_id);
ALTER TABLE identity_links_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN anon_key SETTINGS mutations_sync = 2;
ALTER TABLE identity_links_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN user_key SETTINGS mutations_sync = 2;
CREATE VIEW IF NOT EXISTS identity_keys ON CLUSTER '{cluster}' AS
SELECT anon_key, argMin(k, (f, u)) AS user_key, argMin(u, (f, u)) AS user_id
FROM (SELECT anon_key, user_key AS k, user_id AS u, first_seen AS f FROM identity_links)
GROUP BY anon_key;
