import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, memStorage, CookieJar, base } from './helpers.js';

const land =
  'https://www.shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=shoes&utm_content=ad1' +
  '&gclid=G1&gbraid=GB&wbraid=WB&msclkid=MS&ttclid=TT';

test('utm parameters and click ids from the landing URL, with the time of the click', () => {
  const before = Date.now();
  const e = env({ url: land });
  e.ff.init(base);
  e.ff.track('x');
  const m = e.ff._queue()[0];
  assert.deepEqual(m.context.campaign, {
    name: 'spring', source: 'google', medium: 'cpc', term: 'shoes', content: 'ad1',
    gclid: 'G1', gbraid: 'GB', wbraid: 'WB', msclkid: 'MS', ttclid: 'TT',
  });
  const t = Date.parse(m.context.lastTouch.timestamp);
  assert.ok(t >= before && t <= Date.now());
  assert.equal(m.context.lastTouch.url, land);
  assert.deepEqual(m.context.firstTouch, m.context.lastTouch);
});

test('first touch is kept, last touch follows the latest campaign, plain pages keep both', () => {
  const storage = memStorage();
  const a = env({ storage, url: 'https://shop.example/?utm_source=newsletter&utm_campaign=may' });
  a.ff.init(base);
  const b = env({ storage, url: 'https://shop.example/?utm_source=bing&msclkid=M2' });
  b.ff.init(base);
  const c = env({ storage, url: 'https://shop.example/plain' });
  c.ff.init(base);
  c.ff.track('x');
  const ctx = c.ff._queue().at(-1).context;
  assert.equal(ctx.firstTouch.source, 'newsletter');
  assert.equal(ctx.firstTouch.name, 'may');
  assert.equal(ctx.lastTouch.source, 'bing');
  assert.deepEqual(ctx.campaign, { source: 'bing', msclkid: 'M2' });
  assert.ok(ctx.firstTouch.timestamp <= ctx.lastTouch.timestamp);
  const none = env({ url: 'https://shop.example/' });
  none.ff.init(base);
  none.ff.track('y');
  assert.equal(none.ff._queue()[0].context.campaign, undefined);
});

test('Meta _fbc and _fbp cookies in their documented formats, sent in context', () => {
  const before = Date.now();
  const cookieJar = new CookieJar();
  const e = env({ cookieJar, url: 'https://www.shop.example/?fbclid=IwAR.abc_123' });
  e.ff.init(base);
  const cookies = Object.fromEntries(e.doc.cookie.split('; ').map((c) => c.split('=')));
  const fbc = decodeURIComponent(cookies._fbc);
  const fbp = decodeURIComponent(cookies._fbp);
  assert.match(fbc, /^fb\.1\.\d{13}\.IwAR\.abc_123$/);
  assert.match(fbp, /^fb\.1\.\d{13}\.\d{10}$/);
  const ms = +fbc.split('.')[2];
  assert.ok(ms >= before && ms <= Date.now(), 'unix ms of the click');
  assert.equal(cookieJar.getCookiesSync('https://shop.example/').filter((c) => c.key[0] == '_').length, 2, 'on the top domain');
  e.ff.track('x');
  const ctx = e.ff._queue()[0].context;
  assert.equal(ctx.fbc, fbc);
  assert.equal(ctx.fbp, fbp);
  assert.equal(ctx.campaign.fbclid, 'IwAR.abc_123');
  // Next page: _fbp and _fbc are kept as they are.
  const next = env({ cookieJar, storage: e.win.localStorage, url: 'https://www.shop.example/next' });
  next.ff.init(base);
  next.ff.track('y');
  assert.equal(next.ff._queue().at(-1).context.fbp, fbp);
  assert.equal(next.ff._queue().at(-1).context.fbc, fbc);
  // A new fbclid replaces _fbc.
  const again = env({ cookieJar, storage: e.win.localStorage, url: 'https://www.shop.example/?fbclid=NEW' });
  again.ff.init(base);
  again.ff.track('z');
  assert.match(again.ff._queue().at(-1).context.fbc, /^fb\.1\.\d{13}\.NEW$/);
  assert.equal(again.ff._queue().at(-1).context.fbp, fbp);
});

test('an existing _fbp from the Meta pixel is reused; metaCookies:false sets none', () => {
  const cookieJar = new CookieJar();
  cookieJar.setCookieSync('_fbp=fb.1.1700000000000.1234567890; Path=/', 'https://shop.example/');
  const e = env({ cookieJar });
  e.ff.init(base);
  e.ff.track('x');
  assert.equal(e.ff._queue()[0].context.fbp, 'fb.1.1700000000000.1234567890');
  const off = env({ url: 'https://shop.example/?fbclid=F' });
  off.ff.init({ ...base, metaCookies: false });
  assert.ok(!off.doc.cookie.includes('_fb'));
});
