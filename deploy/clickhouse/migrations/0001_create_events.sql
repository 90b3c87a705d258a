-- Footfall events: one row per message_id (effectively-once, see docs and consumers/clickhouse_sink).
--
-- ReplacingMergeTree ORDER BY message_id: redelivered events collapse to one row at merge time;
-- correctness queries use FINAL. There is deliberately NO PARTITION BY on a timestamp: a retried
-- event whose skew-corrected `timestamp` (or received_at) differs between attempts would land in
-- another partition, and ReplacingMergeTree only collapses rows within one partition, so the
-- duplicate would escape dedup forever. Time pruning comes from the minmax skip index instead.
--
-- properties/traits/context/integrations are JSON text in String columns (query them with
-- JSONExtract*), not the JSON type: a type edge case in client-sent JSON (a key that is a number
-- in one event and an object in the next, deep nesting, too many paths) must never make an insert
-- fail and stall the sink. The commonly used fields are typed columns computed here, at insert,
-- by DEFAULT expressions (the sink inserts the raw Avro records and ClickHouse decodes them): page
-- fields from context.page (page events fall back to properties; path falls back to the URL's),
-- UTM parameters and click ids from context.campaign else the page URL's query string, and the
-- client details (JSONExtractString: strings; numbers and bools as their JSON text; null -> '').
--
-- non_replicated_deduplication_window turns on insert dedup for this non-replicated table: the
-- sink sends insert_deduplication_token = '{topic}:{partition}:{first}-{last}' per batch, so a
-- retried batch is skipped whole. kafka_topic/partition/offset let the sink resume exactly after
-- the last stored offset even when Kafka redelivers with different batch boundaries.
CREATE TABLE IF NOT EXISTS events
(
    message_id String,
    type LowCardinality(String),
    event String DEFAULT '',
    name String DEFAULT '',
    anonymous_id String DEFAULT '',
    user_id String DEFAULT '',
    previous_id String DEFAULT '',
    group_id String DEFAULT '',
    timestamp DateTime64(3, 'UTC'),
    original_timestamp Nullable(DateTime64(3, 'UTC')),
    sent_at Nullable(DateTime64(3, 'UTC')),
    received_at DateTime64(3, 'UTC'),
    properties String DEFAULT '{}',
    traits String DEFAULT '{}',
    context String DEFAULT '{}',
    integrations String DEFAULT '{}',
    page_url String DEFAULT if(JSONExtractString(context, 'page', 'url') != '',
        JSONExtractString(context, 'page', 'url'), if(type = 'page', JSONExtractString(properties, 'url'), '')),
    page_path String DEFAULT if(JSONExtractString(context, 'page', 'path') != '',
        JSONExtractString(context, 'page', 'path'), if(type = 'page' AND JSONExtractString(properties, 'path') != '',
        JSONExtractString(properties, 'path'), path(page_url))),
    page_referrer String DEFAULT if(JSONExtractString(context, 'page', 'referrer') != '',
        JSONExtractString(context, 'page', 'referrer'), if(type = 'page', JSONExtractString(properties, 'referrer'), '')),
    page_title String DEFAULT if(JSONExtractString(context, 'page', 'title') != '',
        JSONExtractString(context, 'page', 'title'), if(type = 'page', JSONExtractString(properties, 'title'), '')),
    utm_source String DEFAULT if(JSONExtractString(context, 'campaign', 'source') != '',
        JSONExtractString(context, 'campaign', 'source'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_source'))),
    utm_medium String DEFAULT if(JSONExtractString(context, 'campaign', 'medium') != '',
        JSONExtractString(context, 'campaign', 'medium'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_medium'))),
    utm_campaign String DEFAULT if(JSONExtractString(context, 'campaign', 'name') != '',
        JSONExtractString(context, 'campaign', 'name'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_campaign'))),
    utm_term String DEFAULT if(JSONExtractString(context, 'campaign', 'term') != '',
        JSONExtractString(context, 'campaign', 'term'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_term'))),
    utm_content String DEFAULT if(JSONExtractString(context, 'campaign', 'content') != '',
        JSONExtractString(context, 'campaign', 'content'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_content'))),
    gclid String DEFAULT if(JSONExtractString(context, 'campaign', 'gclid') != '',
        JSONExtractString(context, 'campaign', 'gclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'gclid'))),
    gbraid String DEFAULT if(JSONExtractString(context, 'campaign', 'gbraid') != '',
        JSONExtractString(context, 'campaign', 'gbraid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'gbraid'))),
    wbraid String DEFAULT if(JSONExtractString(context, 'campaign', 'wbraid') != '',
        JSONExtractString(context, 'campaign', 'wbraid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'wbraid'))),
    fbclid String DEFAULT if(JSONExtractString(context, 'campaign', 'fbclid') != '',
        JSONExtractString(context, 'campaign', 'fbclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'fbclid'))),
    msclkid String DEFAULT if(JSONExtractString(context, 'campaign', 'msclkid') != '',
        JSONExtractString(context, 'campaign', 'msclkid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'msclkid'))),
    ttclid String DEFAULT if(JSONExtractString(context, 'campaign', 'ttclid') != '',
        JSONExtractString(context, 'campaign', 'ttclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'ttclid'))),
    user_agent String DEFAULT JSONExtractString(context, 'userAgent'),
    ip String DEFAULT JSONExtractString(context, 'ip'),
    library_name LowCardinality(String) DEFAULT JSONExtractString(context, 'library', 'name'),
    library_version LowCardinality(String) DEFAULT JSONExtractString(context, 'library', 'version'),
    -- v1 records have no source: the v2 schema's default
    source LowCardinality(String) DEFAULT 'unknown',
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX timestamp_minmax timestamp TYPE minmax GRANULARITY 1,
    CONSTRAINT message_id_present CHECK message_id != ''
)
ENGINE = ReplacingMergeTree
ORDER BY message_id
SETTINGS non_replicated_deduplication_window = 10000;
