// A visitor's journey through the demo shop in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). Prints one JSON summary on stdout; progress goes to stderr.
//
//   node e2e/demo_journey.mjs                 landing from a Facebook ad, browse, register, buy
//   SCENARIO=offline node e2e/demo_journey.mjs  act while the API is down, then wait for it
//
// Env: DEMO_URL (http://127.0.0.1:8090), API_URL (http://127.0.0.1:8080, offline scenario),
// CHROMIUM (/usr/bin/chromium), ARTIFACT_DIR (<repo>/test-artifacts).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_URL = (process.env.DEMO_URL || 'http://127.0.0.1:8090').replace(/\/$/, '');
const API_URL = (process.env.API_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACT_DIR || join(REPO, 'test-artifacts');
const SCENARIO = process.env.SCENARIO || 'journey';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const log = (msg) => process.stderr.write(`e2e: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

// Visit a page and wait for the tracker to be initialised.
async function ready(page) {
  await page.waitForLoadState('load');
  await page.waitForFunction(() => window.footfall && window.footfall.user && window.footfall.user().anonymousId);
}

// Click a link and wait for the next page.
async function follow(page, selector) {
  const from = page.url();
  await Promise.all([page.waitForURL((u) => u.toString() !== from), page.click(selector)]);
  await ready(page);
}

const queued = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('ff_q') || '[]'));

async function drain(page, timeoutMs) {
  // Send now rather than wait out the retry backoff; done when the durable queue is empty.
  await waitFor('the tracker queue to drain', async () => {
    await page.evaluate(() => window.footfall.flush());
    return (await queued(page)).length === 0;
  }, timeoutMs);
}

async function state(page) {
  return page.evaluate(() => ({
    user: window.footfall.user(),
    storedAnonymousId: localStorage.getItem('ff_aid'),
    campaign: window.footfall.campaign(),
    cookies: Object.fromEntries(document.cookie.split('; ').filter(Boolean).map((c) => {
      const i = c.indexOf('=');
      return [c.slice(0, i), decodeURIComponent(c.slice(i + 1))];
    })),
  }));
}

async function journey(page, summary) {
  const fbclid = 'IwAR' + randomBytes(12).toString('hex');
  summary.fbclid = fbclid;
  summary.landingUrl = `${DEMO_URL}/?utm_source=facebook&utm_campaign=spring&fbclid=${fbclid}`;
  await page.goto(summary.landingUrl);
  await ready(page);
  log('landed on the home page');

  await follow(page, '#home a[data-product="lumen-x100"]');
  log(`product page ${page.url()}`);
  await follow(page, '#similar a.similar-item');
  log(`similar product ${page.url()}`);

  await page.click('#reco-open');
  await page.waitForSelector('#reco-popup:not([hidden])');
  await follow(page, '#reco-popup a.reco-item[data-product="pocket-p7"]');
  log(`recommended product ${page.url()}`);

  await follow(page, '#nav-register');
  await page.fill('#register-form input[name="name"]', 'Ada Example');
  summary.email = `ada+${randomBytes(4).toString('hex')}@example.com`;
  await page.fill('#register-form input[name="email"]', summary.email);
  await page.click('#register-form button[type="submit"]');
  await page.waitForFunction(() => /Welcome/.test(document.getElementById('register-status').textContent));
  summary.registerStatus = await page.textContent('#register-status');
  log(summary.registerStatus);

  await follow(page, 'header a.logo');
  await follow(page, '#home a[data-product="pocket-p7"]');
  await page.click('#buy');
  await page.waitForFunction(() => /Thank you/.test(document.getElementById('order-status').textContent));
  summary.orderStatus = await page.textContent('#order-status');
  summary.orderId = (summary.orderStatus.match(/ord-[0-9a-f]+/) || [null])[0];
  log(summary.orderStatus);

  await drain(page, 30000);
}

async function offline(page, summary) {
  // The API is down: the tracker must keep every event in localStorage and lose none.
  await page.goto(`${DEMO_URL}/?utm_source=newsletter&utm_campaign=offline`);
  await ready(page);
  await page.click('#reco-open');
  await page.click('#reco-close');
  await page.click('#reco-open');
  await page.evaluate(() => window.footfall.track('Offline Probe', { n: 1 }));
  await page.evaluate(() => window.footfall.track('Offline Probe', { n: 2 }));
  await sleep(3000); // past the first flush (2 s), which fails: nothing is listening
  const kept = await queued(page);
  summary.queuedWhileDown = kept.map((it) => it.m.messageId);
  log(`${kept.length} events kept while the API is down`);
  // Tell the test to start the API, then wait for it.
  process.stdout.write(JSON.stringify({ phase: 'api-down-done', queued: kept.length }) + '\n');
  await waitFor('the API', async () => {
    try {
      return (await fetch(`${API_URL}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 120000);
  log('the API is up; draining the queue');
  await drain(page, 60000);
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'footfall-e2e-'));
  const summary = { scenario: SCENARIO, demoUrl: DEMO_URL, batches: [], apiCalls: [] };
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 900 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => m.type() === 'error' && log(`console: ${m.text()}`));
    page.on('requestfinished', async (req) => {
      const url = req.url();
      if (url.includes('/v1/batch')) {
        const res = await req.response();
        summary.batches.push({ status: res ? res.status() : null });
      } else if (url.startsWith(`${DEMO_URL}/api/`)) {
        summary.apiCalls.push({ path: new URL(url).pathname, requestId: (await req.allHeaders())['x-request-id'] || null });
      }
    });
    await (SCENARIO === 'offline' ? offline(page, summary) : journey(page, summary));
    Object.assign(summary, await state(page));
    summary.anonymousId = summary.storedAnonymousId;
    summary.screenshot = join(ARTIFACTS, `demo-${SCENARIO}.png`);
    await page.screenshot({ path: summary.screenshot, fullPage: true });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((err) => {
  log(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
