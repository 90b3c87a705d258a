// The tracker on a page whose URL carries an email and a token, for
// tests/test_privacy_rules_browser.py: a page view (autoPage), identify() with an email and a
// phone in traits, one track; waits until the tracker has sent everything, prints "sent".
//
// Env: PAGE_URL, CHROMIUM (/usr/bin/chromium).
import { chromium } from 'playwright-core';

const PAGE_URL = process.env.PAGE_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
try {
  const page = await browser.newPage();
  await page.goto(PAGE_URL);
  await page.waitForFunction(() => window.footfall && window.footfall.user);
  await page.evaluate(() => {
    window.footfall.identify('u-rules', { email: ' Jane.Doe@Example.com ', phone: '+1 (650) 555-1212' });
    window.footfall.track('Newsletter Joined');
  });
  for (let i = 0; ; i++) {
    await page.evaluate(() => window.footfall.flush());
    if ((await page.evaluate(() => window.footfall._queue().length)) === 0) break;
    if (i > 120) throw new Error('the tracker queue did not drain');
    await sleep(250);
  }
} finally {
  await browser.close();
}
process.stdout.write('sent\n');
