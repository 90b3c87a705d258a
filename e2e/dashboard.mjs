// The analytics dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): open it, build a funnel with a filter and per-step filters, read the numbers
// it shows, save a screenshot. Prints one JSON summary on stdout ({search, rows, requests, ...});
// progress on stderr.
//
// Env: DASHBOARD_URL (http://127.0.0.1:8125), FROM / TO (dates), STEPS (comma-separated),
// WINDOW (1d), FILTER (field:op:value), STEP_FILTERS (optional, one n:field:op:value per line:
// added with step n's "+ filter"), BREAKDOWN (optional), CHROMIUM (/usr/bin/chromium),
// ARTIFACT_DIR (<repo>/test-artifacts). With DASHBOARD_USER / DASHBOARD_PASSWORD it logs in
// first, and at the end runs SQL, makes a share link for the funnel, logs out and opens the link.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const URL_ = (process.env.DASHBOARD_URL || 'http://127.0.0.1:8125').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACT_DIR || join(REPO, 'test-artifacts');
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const log = (msg) => process.stderr.write(`e2e: ${msg}\n`);

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'footfall-dash-'));
  const summary = { requests: [], foreign: [] };
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 1000 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => m.type() === 'error' && log(`console: ${m.text()}`));
    page.on('request', (req) => {
      const url = req.url();
      if (!url.startsWith(URL_)) summary.foreign.push(url);  // nothing may leave the server
      else summary.requests.push(new URL(url).pathname);
    });
    const start = new URLSearchParams({ from: process.env.FROM || '', to: process.env.TO || '' });
    log(`opening ${URL_}/?${start}`);
    await page.goto(`${URL_}/?${start}`);
    if (process.env.DASHBOARD_USER) {
      summary.loginUrl = new URL(page.url()).pathname;  // no session yet: sent to the login form
      await page.fill('#username', process.env.DASHBOARD_USER);
      await page.fill('#password', process.env.DASHBOARD_PASSWORD || '');
      await page.click('#submit');
    }
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    summary.chartLoaded = await page.evaluate(() => typeof window.Chart === 'function');

    // Build the funnel: steps, window, a filter, per-step filters, an optional breakdown; run it.
    await page.fill('#steps', process.env.STEPS || '');
    await page.fill('#window', process.env.WINDOW || '1d');
    if (process.env.BREAKDOWN) await page.fill('#breakdown', process.env.BREAKDOWN);
    const [field, op, ...value] = (process.env.FILTER || '').split(':');
    await page.click('#add-filter');
    await page.fill('#filter-rows .filter-row:last-child .filter-field', field);
    await page.selectOption('#filter-rows .filter-row:last-child .filter-op', op);
    await page.fill('#filter-rows .filter-row:last-child .filter-value', value.join(':'));
    for (const spec of (process.env.STEP_FILTERS || '').split('\n').filter(Boolean)) {
      const [n, sField, sOp, ...sValue] = spec.split(':');
      const step = `.step-row[data-step="${n}"]`;
      await page.click(`${step} .add-step-filter`);
      const row = `${step} .step-filters .filter-row:last-child`;
      await page.fill(`${row} .filter-field`, sField);
      await page.selectOption(`${row} .filter-op`, sOp);
      await page.fill(`${row} .filter-value`, sValue.join(':'));
    }
    summary.stepNames = await page.$$eval('#step-rows .step-row:not([hidden]) .step-name',
      (spans) => spans.map((s) => s.textContent));
    await page.click('#run-funnel');
    await page.waitForSelector('#funnel-status[data-query]', { timeout: 60000 });
    await page.waitForSelector('body[data-ready="1"]');

    summary.search = await page.evaluate(() => location.search);
    summary.status = await page.textContent('#funnel-status');
    summary.rows = await page.$$eval('#funnel-table tbody tr', (trs) => trs.map((tr) => ({
      breakdown: tr.dataset.breakdown,
      persons: [...tr.querySelectorAll('td.persons')].map((td) => Number(td.dataset.persons)),
      medians: [...tr.querySelectorAll('td.persons')].map(
        (td) => (td.dataset.median === undefined ? null : Number(td.dataset.median))),
      medianText: [...tr.querySelectorAll('td.persons small.median')].map((m) => m.textContent),
    })));
    summary.headers = await page.$$eval('#funnel-table thead th', (ths) => ths.map((th) => th.textContent));
    summary.conversions = await page.textContent('#conversions-status');
    summary.overTimeStatus = await page.textContent('#over-time-status');
    await page.waitForTimeout(300);  // let the charts finish painting
    summary.screenshot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: summary.screenshot, fullPage: true });

    // A shared URL restores the view: open it afresh and read the step filters back from the form.
    await page.goto(`${URL_}/${summary.search}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    await page.waitForSelector('#funnel-status[data-query]', { timeout: 60000 });
    summary.restoredStepFilters = await page.$$eval('#step-rows .step-row:not([hidden])',
      (rows) => rows.flatMap((row) => [...row.querySelectorAll('.filter-row')].map((f) => {
        const [fld, o, v] = f.querySelectorAll('input, select');
        return `${row.dataset.step}:${fld.value}:${o.value}:${v.value}`;
      })));
    summary.restoredRows = await page.$$eval('#funnel-table tbody tr', (trs) => trs.map((tr) => ({
      breakdown: tr.dataset.breakdown,
      persons: [...tr.querySelectorAll('td.persons')].map((td) => Number(td.dataset.persons)),
      medians: [...tr.querySelectorAll('td.persons')].map(
        (td) => (td.dataset.median === undefined ? null : Number(td.dataset.median))),
      medianText: [...tr.querySelectorAll('td.persons small.median')].map((m) => m.textContent),
    })));
    if (process.env.DASHBOARD_USER) await afterLogin(page, summary);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

// SQL from the page (a POST with the CSRF token), a share link for the funnel, log out, then
// the link still shows its funnel and nothing else.
async function afterLogin(page, summary) {
  await page.fill('#sql-text', 'SELECT 6 * 7 AS answer');
  await page.click('#sql-run');
  await page.waitForFunction(() => /rows/.test(document.getElementById('sql-status').textContent)
    || document.getElementById('sql-status').classList.contains('error'), null, { timeout: 30000 });
  summary.sqlStatus = await page.textContent('#sql-status');
  summary.sqlCells = await page.$$eval('#sql-table td', (tds) => tds.map((td) => td.textContent));
  await page.selectOption('#share-report', 'funnel');
  await page.click('#share-create');
  await page.waitForSelector('#share-url:not([hidden])', { timeout: 30000 });
  summary.shareUrl = await page.inputValue('#share-url');
  await page.click('#logout');
  await page.waitForURL((u) => u.pathname === '/login', { timeout: 30000 });
  await page.goto(`${URL_}/`);
  summary.afterLogout = new URL(page.url()).pathname;
  await page.goto(summary.shareUrl);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
  summary.sharedSections = await page.$$eval('main > section',
    (ss) => ss.filter((s) => !s.hidden).map((s) => s.id));
  summary.sharedRows = await page.$$eval('#funnel-table tbody tr', (trs) => trs.map((tr) => ({
    breakdown: tr.dataset.breakdown,
    persons: [...tr.querySelectorAll('td.persons')].map((td) => Number(td.dataset.persons)),
  })));
  summary.sharedStatus = await page.textContent('#funnel-status');
}

main().catch((err) => {
  log(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
