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
    -- Parsed once per row and never stored: the typed columns below read from it. One JSON
    -- parse instead of ~35 made inserts about 3x cheaper (bench/sink_throughput.py).
    ctx Tuple(
        page Tuple(url String, path String, referrer String, title String),
        campaign Tuple(source String, medium String, name String, term String, content String,
            gclid String, gbraid String, wbraid String, fbclid String, msclkid String, ttclid String),
        userAgent String, ip String, library Tuple(name String, version String)) EPHEMERAL
        JSONExtract(context, 'Tuple(page Tuple(url String, path String, referrer String, title String), campaign Tuple(source String, medium String, name String, term String, content String, gclid String, gbraid String, wbraid String, fbclid String, msclkid String, ttclid String), userAgent String, ip String, library Tuple(name String, version String))'),
    page_url String DEFAULT if(tupleElement(tupleElement(ctx, 'page'), 'url') != '',
        tupleElement(tupleElement(ctx, 'page'), 'url'), if(type = 'page', JSONExtractString(properties, 'url'), '')),
    page_path String DEFAULT if(tupleElement(tupleElement(ctx, 'page'), 'path') != '',
        tupleElement(tupleElement(ctx, 'page'), 'path'), if(type = 'page' AND JSONExtractString(properties, 'path') != '',
        JSONExtractString(properties, 'path'), path(page_url))),
    page_referrer String DEFAULT if(tupleElement(tupleElement(ctx, 'page'), 'referrer') != '',
        tupleElement(tupleElement(ctx, 'page'), 'referrer'), if(type = 'page', JSONExtractString(properties, 'referrer'), '')),
    page_title String DEFAULT if(tupleElement(tupleElement(ctx, 'page'), 'title') != '',
        tupleElement(tupleElement(ctx, 'page'), 'title'), if(type = 'page', JSONExtractString(properties, 'title'), '')),
    utm_source String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'source') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'source'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_source'))),
    utm_medium String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'medium') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'medium'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_medium'))),
    utm_campaign String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'name') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'name'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_campaign'))),
    utm_term String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'term') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'term'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_term'))),
    utm_content String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'content') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'content'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'utm_content'))),
    gclid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'gclid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'gclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'gclid'))),
    gbraid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'gbraid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'gbraid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'gbraid'))),
    wbraid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'wbraid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'wbraid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'wbraid'))),
    fbclid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'fbclid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'fbclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'fbclid'))),
    msclkid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'msclkid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'msclkid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'msclkid'))),
    ttclid String DEFAULT if(tupleElement(tupleElement(ctx, 'campaign'), 'ttclid') != '',
        tupleElement(tupleElement(ctx, 'campaign'), 'ttclid'),
        decodeURLFormComponent(extractURLParameter(cutFragment(page_url), 'ttclid'))),
    user_agent String DEFAULT tupleElement(ctx, 'userAgent'),
    ip String DEFAULT tupleElement(ctx, 'ip'),
    library_name LowCardinality(String) DEFAULT tupleElement(tupleElement(ctx, 'library'), 'name'),
    library_version LowCardinality(String) DEFAULT tupleElement(tupleElement(ctx, 'library'), 'version'),
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
