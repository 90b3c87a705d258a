-- Person keys as UInt64 (query speed): the reports group, join and count persons by key, not
-- by the 'u:<user_id>' / 'a:<anonymous_id>' strings, which made the identity join and the
-- per-person GROUP BY the largest cost of every report (about half of it at 10M events).
--
-- ff_user_key / ff_anon_key hash the event's own ids, 0 for a missing or placeholder id
-- (footfall_valid_id). The 'u' and 'a' prefixes keep the two namespaces apart, as the strings do.
-- identity_keys is identity_map by key: the earliest link wins (ties: the smaller user id).
-- A person key is then multiIf(ff_user_key != 0, ff_user_key, linked user key, ff_anon_key),
-- the same rule as person_id in events_resolved. Two ids share a key only on a 64-bit hash
-- collision: about 3e-8 for a million ids, and it would merge two persons' counts, nothing else.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS ff_anon_key UInt64 MATERIALIZED
        if(footfall_valid_id(anonymous_id), cityHash64('a', anonymous_id), 0),
    ADD COLUMN IF NOT EXISTS ff_user_key UInt64 MATERIALIZED
        if(footfall_valid_id(user_id), cityHash64('u', user_id), 0);
ALTER TABLE events MATERIALIZE COLUMN ff_anon_key SETTINGS mutations_sync = 2;
ALTER TABLE events MATERIALIZE COLUMN ff_user_key SETTINGS mutations_sync = 2;
ALTER TABLE identity_links
    ADD COLUMN IF NOT EXISTS anon_key UInt64 MATERIALIZED cityHash64('a', anonymous_id),
    ADD COLUMN IF NOT EXISTS user_key UInt64 MATERIALIZED cityHash64('u', user_id);
ALTER TABLE identity_links MATERIALIZE COLUMN anon_key SETTINGS mutations_sync = 2;
ALTER TABLE identity_links MATERIALIZE COLUMN user_key SETTINGS mutations_sync = 2;
CREATE VIEW IF NOT EXISTS identity_keys AS
SELECT anon_key, argMin(k, (f, u)) AS user_key, argMin(u, (f, u)) AS user_id
FROM (SELECT anon_key, user_key AS k, user_id AS u, first_seen AS f FROM identity_links)
GROUP BY anon_key;
