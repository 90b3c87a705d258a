// The dashboard's first open in headless Chromium: log in, open / with nothing typed and read what
// it answers (period, funnel with steps it chose, the founding question, attribution, retention
// definitions, the empty-database note). Prints one JSON summary on stdout; progress on stderr.
//
// Env: DASHBOARD_URL, DASHBOARD_USER, DASHBOARD_PASSWORD, CHROMIUM (/usr/bin/chromium),
// ARTIFACT_DIR (<repo>/test-artifacts), SHOT (the screenshot's file name).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const URL_ = (process.env.DASHBOARD_URL || 'http://127.0.0.1:8125').replace(/\/$/, '');
const ARTIFACTS = process.env.ARTIFACT_DIR || join(REPO, 'test-artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const log = (msg) => process.stderr.write(`e2e: ${msg}\n`);

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'footfall-first-'));
  const summary = { apiQueries: {} };
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 1400, height: 1000 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => m.type() === 'error' && log(`console: ${m.text()}`));
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.pathname.startsWith('/api/')) summary.apiQueries[url.pathname] = url.search;
    });
    await page.goto(`${URL_}/`);
    await page.fill('#username', process.env.DASHBOARD_USER);
    await page.fill('#password', process.env.DASHBOARD_PASSWORD);
    await page.click('#submit');
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    summary.search = await page.evaluate(() => location.search);
    summary.periodSelect = await page.inputValue('#period');
    summary.period = await page.$eval('#period-used', (n) => ({ text: n.textContent, ...n.dataset }));
    summary.steps = await page.inputValue('#steps');
    summary.funnelStatus = await page.textContent('#funnel-status');
    summary.funnelPersons = await page.$$eval('#funnel-table tbody tr td.persons',
      (tds) => tds.map((td) => Number(td.dataset.persons)));
    summary.founding = await page.$eval('#founding-persons', (n) => n.dataset.persons ?? null);
    summary.foundingStatus = await page.textContent('#founding-status');
    summary.attribution = await page.textContent('#attribution-status');
    summary.definitions = await page.textContent('#retention-definitions');
    summary.futureCells = await page.$$eval('#retention-table td.future', (tds) => tds.length);
    summary.emptyShown = await page.$eval('#empty', (n) => !n.hidden);
    summary.emptyText = await page.textContent('#empty');
    await page.waitForTimeout(300);  // let the charts finish painting
    await page.screenshot({ path: join(ARTIFACTS, process.env.SHOT || 'dashboard-first-open.png'),
      fullPage: true });
    summary.firstQueries = { ...summary.apiQueries };
    // A preset: the view (and the URL) take it, and the header shows the period it covers.
    await page.selectOption('#period', '7d');
    await page.waitForFunction(() => document.getElementById('period-used').dataset.kind === 'last',
      null, { timeout: 60000 });
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    summary.presetSearch = await page.evaluate(() => location.search);
    summary.presetPeriod = await page.$eval('#period-used', (n) => ({ text: n.textContent, ...n.dataset }));
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
