// The analytics dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): open it, build a funnel with a filter, read the numbers it shows, save a
// screenshot. Prints one JSON summary on stdout ({search, rows, requests}); progress on stderr.
//
// Env: DASHBOARD_URL (http://127.0.0.1:8125), FROM / TO (dates), STEPS (comma-separated),
// WINDOW (1d), FILTER (field:op:value), BREAKDOWN (optional), CHROMIUM (/usr/bin/chromium),
// ARTIFACT_DIR (<repo>/test-artifacts).
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
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    summary.chartLoaded = await page.evaluate(() => typeof window.Chart === 'function');

    // Build the funnel: steps, window, a filter, an optional breakdown; run it.
    await page.fill('#steps', process.env.STEPS || '');
    await page.fill('#window', process.env.WINDOW || '1d');
    if (process.env.BREAKDOWN) await page.fill('#breakdown', process.env.BREAKDOWN);
    const [field, op, ...value] = (process.env.FILTER || '').split(':');
    await page.click('#add-filter');
    await page.fill('.filter-row:last-child .filter-field', field);
    await page.selectOption('.filter-row:last-child .filter-op', op);
    await page.fill('.filter-row:last-child .filter-value', value.join(':'));
    await page.click('#run-funnel');
    await page.waitForSelector('#funnel-status[data-query]', { timeout: 60000 });
    await page.waitForSelector('body[data-ready="1"]');

    summary.search = await page.evaluate(() => location.search);
    summary.status = await page.textContent('#funnel-status');
    summary.rows = await page.$$eval('#funnel-table tbody tr', (trs) => trs.map((tr) => ({
      breakdown: tr.dataset.breakdown,
      persons: [...tr.querySelectorAll('td.persons')].map((td) => Number(td.dataset.persons)),
    })));
    summary.conversions = await page.textContent('#conversions-status');
    summary.overTimeStatus = await page.textContent('#over-time-status');
    await page.waitForTimeout(300);  // let the charts finish painting
    summary.screenshot = join(ARTIFACTS, 'dashboard.png');
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
