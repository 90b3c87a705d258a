// The tracker's cookieless mode in headless Chromium (playwright-core), for
// tests/test_privacy_cookieless_browser.py. The page at PAGE_URL runs footfall.init with
// cookieless: 'until-consent'. Prints one JSON summary on stdout: what the browser kept before
// consent, after consent(true), after a reload and after consent(false).
//
// Env: PAGE_URL, CHROMIUM (/usr/bin/chromium).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const PAGE_URL = process.env.PAGE_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What the browser holds for the site, and what the tracker reports.
const held = (page) =>
  page.evaluate(() => ({
    storage: Object.keys(localStorage).sort(),
    cookie: document.cookie,
    user: window.footfall.user(),
  }));

// Send now; done when nothing is left to send (the queue lives in memory or in ff_q).
async function drain(page) {
  for (let i = 0; i < 120; i++) {
    await page.evaluate(() => window.footfall.flush());
    if ((await page.evaluate(() => window.footfall._queue().length)) === 0) return;
    await sleep(250);
  }
  throw new Error('the tracker queue did not drain');
}

async function open(page) {
  await page.goto(PAGE_URL);
  await page.waitForFunction(() => window.footfall && window.footfall.user);
}

const profile = mkdtempSync(join(tmpdir(), 'ff-cookieless-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS });
const summary = {};
try {
  const page = context.pages()[0] || (await context.newPage());
  await open(page);
  await page.evaluate(() => window.footfall.track('Before Consent'));
  await drain(page);
  summary.before = await held(page);

  await page.evaluate(() => window.footfall.consent(true));
  await page.evaluate(() => window.footfall.track('After Consent'));
  await drain(page);
  summary.afterConsent = await held(page);

  await open(page);
  await drain(page);
  summary.reloaded = await held(page);

  await page.evaluate(() => window.footfall.consent(false));
  await page.evaluate(() => window.footfall.track('Withdrawn'));
  await drain(page);
  summary.withdrawn = await held(page);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(summary) + '\n');
