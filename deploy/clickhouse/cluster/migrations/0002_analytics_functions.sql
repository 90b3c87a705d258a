-- Generated from deploy/clickhouse/migrations/0002_analytics_functions.sql by `python -m footfall.ch_cluster`
CREATE OR REPLACE FUNCTION footfall_valid_id ON CLUSTER '{cluster}' AS (id) ->
    lower(trimBoth(id)) NOT IN ('', 'null', 'undefined', '0', 'anonymous', 'none', 'nan', 'nil', '-', 'false', 'true', '[object object]');
CREATE OR REPLACE FUNCTION footfall_ref_host ON CLUSTER '{cluster}' AS (referrer, page_url) ->
    if(referrer = '' OR lower(domainWithoutWWW(referrer)) = lower(domainWithoutWWW(page_url)), '',
        lower(domainWithoutWWW(referrer)));
CREATE OR REPLACE FUNCTION footfall_is_search_host ON CLUSTER '{cluster}' AS (host) ->
    match(host, '(^|\\.)(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|qwant|startpage|search\\.brave|naver|seznam)\\.');
CREATE OR REPLACE FUNCTION footfall_is_social_host ON CLUSTER '{cluster}' AS (host) ->
    match(host, '(^|\\.)(facebook|fb|instagram|t|twitter|x|linkedin|lnkd|pinterest|reddit|tiktok|youtube|snapchat|threads|bsky|mastodon|whatsapp|vk)\\.(com|co|in|net|org|app|social|me|ru)$');
CREATE OR REPLACE FUNCTION footfall_is_social_source ON CLUSTER '{cluster}' AS (src) ->
    lower(src) IN ('facebook', 'fb', 'meta', 'instagram', 'ig', 'tiktok', 'linkedin', 'twitter', 'x', 'pinterest', 'reddit', 'youtube', 'snapchat', 'threads', 'bluesky', 'mastodon', 'whatsapp');
CREATE OR REPLACE FUNCTION footfall_is_search_source ON CLUSTER '{cluster}' AS (src) ->
    lower(src) IN ('google', 'bing', 'yahoo', 'duckduckgo', 'baidu', 'yandex', 'ecosia', 'qwant', 'brave', 'naver', 'adwords', 'googleads', 'microsoft');
CREATE OR REPLACE FUNCTION footfall_channel ON CLUSTER '{cluster}' AS
    (utm_source, utm_medium, referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid) ->
    multiIf(
        gclid != '' OR gbraid != '' OR wbraid != '' OR msclkid != '', 'paid search',
        ttclid != '', 'paid social',
        match(lower(utm_medium), '^(paid[-_ ]?social|social[-_ ]?paid|paidsocial)$'), 'paid social',
        match(lower(utm_medium), '^(cpc|ppc|cpm|cpv|cpa|paid|paid[-_ ]?search|sem|display|banner)$')
            AND (footfall_is_social_source(utm_source) OR footfall_is_social_host(footfall_ref_host(referrer, page_url))), 'paid social',
        match(lower(utm_medium), '^(cpc|ppc|paid[-_ ]?search|sem)$'), 'paid search',
        match(lower(utm_medium), '^(e[-_]?mail|newsletter)$') OR match(lower(utm_source), '^(e[-_]?mail|newsletter)$'), 'email',
        lower(utm_medium) = 'organic' OR (utm_medium = '' AND footfall_is_search_host(footfall_ref_host(referrer, page_url))), 'organic search',
        match(lower(utm_medium), '^(social|social[-_ ]?(network|media)|sm)$') OR footfall_is_social_source(utm_source)
            OR footfall_is_social_host(footfall_ref_host(referrer, page_url)) OR fbclid != '', 'social',
        utm_source != '' OR utm_medium != '' OR footfall_ref_host(referrer, page_url) != '', 'referral',
        'direct');
CREATE OR REPLACE FUNCTION footfall_is_touch ON CLUSTER '{cluster}' AS
    (utm_source, utm_medium, utm_campaign, referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid) ->
    utm_source != '' OR utm_medium != '' OR utm_campaign != '' OR gclid != '' OR gbraid != ''
        OR wbraid != '' OR msclkid != '' OR fbclid != '' OR ttclid != '' OR footfall_ref_host(referrer, page_url) != '';
