-- Analytics functions (SQL UDFs), written once and used by the views, the materialized view of
-- identity links and the query library (analytics/). The rules are documented in docs/analytics.md.
-- SQL UDFs are global on a server (not per database), hence the footfall_ prefix and OR REPLACE:
-- a later migration may redefine a rule without a DROP.
--
-- An id that must never link or merge anything: empty, or a placeholder an SDK or a template
-- wrote instead of a real id (compared trimmed and ignoring case).
CREATE OR REPLACE FUNCTION footfall_valid_id AS (id) ->
    lower(trimBoth(id)) NOT IN ('', 'null', 'undefined', '0', 'anonymous', 'none', 'nan', 'nil', '-', 'false', 'true', '[object object]');
-- Host of a referrer without www., or '' when the referrer is the site itself (internal navigation).
CREATE OR REPLACE FUNCTION footfall_ref_host AS (referrer, page_url) ->
    if(referrer = '' OR lower(domainWithoutWWW(referrer)) = lower(domainWithoutWWW(page_url)), '',
        lower(domainWithoutWWW(referrer)));
CREATE OR REPLACE FUNCTION footfall_is_search_host AS (host) ->
    match(host, '(^|\\.)(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|qwant|startpage|search\\.brave|naver|seznam)\\.');
CREATE OR REPLACE FUNCTION footfall_is_social_host AS (host) ->
    match(host, '(^|\\.)(facebook|fb|instagram|t|twitter|x|linkedin|lnkd|pinterest|reddit|tiktok|youtube|snapchat|threads|bsky|mastodon|whatsapp|vk)\\.(com|co|in|net|org|app|social|me|ru)$');
CREATE OR REPLACE FUNCTION footfall_is_social_source AS (src) ->
    lower(src) IN ('facebook', 'fb', 'meta', 'instagram', 'ig', 'tiktok', 'linkedin', 'twitter', 'x', 'pinterest', 'reddit', 'youtube', 'snapchat', 'threads', 'bluesky', 'mastodon', 'whatsapp');
CREATE OR REPLACE FUNCTION footfall_is_search_source AS (src) ->
    lower(src) IN ('google', 'bing', 'yahoo', 'duckduckgo', 'baidu', 'yandex', 'ecosia', 'qwant', 'brave', 'naver', 'adwords', 'googleads', 'microsoft');
-- The channel of a touch (a session's first event). First matching rule wins.
CREATE OR REPLACE FUNCTION footfall_channel AS
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
-- A campaign touch: anything that says where the visit came from (tags, click ids, an outside referrer).
CREATE OR REPLACE FUNCTION footfall_is_touch AS
    (utm_source, utm_medium, utm_campaign, referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid) ->
    utm_source != '' OR utm_medium != '' OR utm_campaign != '' OR gclid != '' OR gbraid != ''
        OR wbraid != '' OR msclkid != '' OR fbclid != '' OR ttclid != '' OR footfall_ref_host(referrer, page_url) != '';
