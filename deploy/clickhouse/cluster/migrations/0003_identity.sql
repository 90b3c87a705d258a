-- Generated from deploy/clickhouse/migrations/0003_identity.sql by `python -m footfall.ch_cluster`
CREATE TABLE IF NOT EXISTS identity_links_local ON CLUSTER '{cluster}'
(
    anonymous_id String,
    user_id String,
    kind LowCardinality(String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    links SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/identity_links_local', '{replica}')
ORDER BY (anonymous_id, user_id, kind);
CREATE TABLE IF NOT EXISTS identity_links ON CLUSTER '{cluster}' AS identity_links_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'identity_links_local', cityHash64(anonymous_id));
CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_mv ON CLUSTER '{cluster}' TO identity_links AS
SELECT
    tupleElement(link, 1) AS anonymous_id,
    tupleElement(link, 2) AS user_id,
    tupleElement(link, 3) AS kind,
    at AS first_seen,
    at AS last_seen,
    toUInt64(1) AS links
FROM
(
    SELECT timestamp AS at, arrayJoin(arrayFilter(l -> footfall_valid_id(tupleElement(l, 1))
        AND footfall_valid_id(tupleElement(l, 2)) AND tupleElement(l, 1) != tupleElement(l, 2),
        [(anonymous_id, user_id, 'anonymous'), (previous_id, user_id, 'alias')])) AS link
    FROM events_local
);
INSERT INTO identity_links (anonymous_id, user_id, kind, first_seen, last_seen, links)
SELECT tupleElement(link, 1), tupleElement(link, 2), tupleElement(link, 3), at, at, 1
FROM
(
    SELECT timestamp AS at, arrayJoin(arrayFilter(l -> footfall_valid_id(tupleElement(l, 1))
        AND footfall_valid_id(tupleElement(l, 2)) AND tupleElement(l, 1) != tupleElement(l, 2),
        [(anonymous_id, user_id, 'anonymous'), (previous_id, user_id, 'alias')])) AS link
    FROM events FINAL
);
CREATE VIEW IF NOT EXISTS identity_map ON CLUSTER '{cluster}' AS
SELECT a AS anonymous_id, argMin(u, (f, u)) AS user_id, min(f) AS linked_at, uniqExact(u) AS user_ids
FROM (SELECT anonymous_id AS a, user_id AS u, first_seen AS f FROM identity_links)
GROUP BY a;
CREATE VIEW IF NOT EXISTS identity_conflicts ON CLUSTER '{cluster}' AS
SELECT a AS anonymous_id, u AS user_id, f AS first_seen, l AS last_seen, is_mapping
FROM
(
    SELECT
        a, u, f, l,
        count() OVER (PARTITION BY a) AS user_ids,
        row_number() OVER (PARTITION BY a ORDER BY f, u) = 1 AS is_mapping
    FROM
    (
        SELECT anonymous_id AS a, user_id AS u, min(first_seen) AS f, max(last_seen) AS l
        FROM identity_links
        GROUP BY anonymous_id, user_id
    )
)
WHERE user_ids > 1;
CREATE VIEW IF NOT EXISTS events_resolved ON CLUSTER '{cluster}' AS
SELECT
    e.*,
    multiIf(footfall_valid_id(e.user_id), concat('u:', e.user_id),
        m.user_id != '', concat('u:', m.user_id),
        footfall_valid_id(e.anonymous_id), concat('a:', e.anonymous_id), '') AS person_id
FROM events AS e FINAL
LEFT JOIN identity_map AS m ON e.anonymous_id = m.anonymous_id;
