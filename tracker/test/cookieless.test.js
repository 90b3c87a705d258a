import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, memStorage, CookieJar, base } from './helpers.js';

const SITE = 'https://www.shop.example/';
const stored = (storage) => [...storage.data.keys()].filter((k) => k.startsWith('ff_')).sort();
const cookies = (jar) => jar.getCookiesSync(SITE).map((c) => c.key).sort();
const xrid = (c) => (c.init && c.init.headers ? new Headers(c.init.headers).get('X-Request-ID') : null);

// A page of a site whose visitor came from a campaign, with its storage and cookie jar.
function page(o = {}) {
  const storage = o.storage || memStorage();
  const cookieJar = o.cookieJar || new CookieJar();
  const url = o.url || SITE + '?utm_source=news&fbclid=F1';
  return { storage, cookieJar, ...env({ storage, cookieJar, url, respond: o.respond }) };
}

test('cookieless: true keeps nothing in the browser and marks every event', async () => {
  const e = page();
  e.ff.init({ ...base, cookieless: true, autoPage: true, requestIdOrigins: ['https://api.shop.example'] });
  e.ff.identify('u-1', { plan: 'pro' });
  e.ff.track('Clicked');
  await e.win.fetch('https://api.shop.example/cart');
  await e.ff.flush();
  e.win.dispatchEvent(new e.win.Event('pagehide'));
  assert.deepEqual(stored(e.storage), [], 'no ff_ key: no id, queue, touches or user id');
  assert.equal(e.storage.data.size, 0);
  assert.deepEqual(cookies(e.cookieJar), [], 'no ff_ cookie and no _fbp/_fbc');
  assert.equal(e.doc.cookie, '');
  assert.equal(xrid(e.calls[0]), null, 'no X-Request-ID: there is no id to send');
  const sent = e.sent();
  assert.deepEqual(sent.map((m) => m.type), ['page', 'identify', 'track']);
  for (const m of sent) {
    assert.ok(!('anonymousId' in m), 'the API derives the visitor id');
    assert.equal(m.context.cookieless, true);
    assert.equal(m.context.campaign.source, 'news', "this page's campaign still travels");
    assert.ok(!m.context.fbp && !m.context.fbc);
  }
  assert.deepEqual(sent.map((m) => m.userId), [undefined, 'u-1', 'u-1']);
  assert.deepEqual(e.ff.user(), { anonymousId: null, userId: 'u-1' });
  const next = page({ storage: e.storage, cookieJar: e.cookieJar, url: SITE + 'next' });
  next.ff.init({ ...base, cookieless: true });
  next.ff.track('Next');
  await next.ff.flush();
  assert.equal(next.sent()[0].userId, undefined, 'the user id lived as long as the page');
  assert.equal(next.sent()[0].context.campaign, undefined, 'no campaign touch was kept');
});

test('cookieless: unsent events wait in memory and are retried', async () => {
  let fail = true;
  const e = page({ respond: () => new Response('', { status: fail ? 503 : 200 }) });
  e.ff.init({ ...base, cookieless: true });
  e.ff.track('a');
  await e.ff.flush();
  assert.deepEqual(e.ff._queue().map((m) => m.event), ['a']);
  assert.deepEqual(stored(e.storage), []);
  fail = false;
  await e.ff.flush();
  assert.deepEqual(e.ff._queue(), []);
  assert.deepEqual(e.sent().map((m) => m.event), ['a', 'a']);
});

test('cookieless: true deletes what an earlier stored-mode visit left', async () => {
  const before = page();
  before.ff.init({ ...base, autoPage: true });
  before.ff.identify('u-1');
  assert.ok(stored(before.storage).includes('ff_aid'));
  assert.ok(cookies(before.cookieJar).includes('_fbp'));
  const e = page({ storage: before.storage, cookieJar: before.cookieJar, url: SITE });
  e.ff.init({ ...base, cookieless: true });
  assert.deepEqual(stored(e.storage), []);
  assert.deepEqual(cookies(e.cookieJar), []);
});

test("cookieless: 'until-consent' switches to a stored id on consent(true) and back on consent(false)", async () => {
  const opts = { ...base, cookieless: 'until-consent', autoPage: true, requestIdOrigins: ['https://api.shop.example'] };
  const e = page();
  e.ff.init(opts);
  e.ff.identify('u-1');
  assert.deepEqual(stored(e.storage), [], 'nothing stored before consent');
  assert.deepEqual(cookies(e.cookieJar), []);

  e.ff.consent(true);
  const id = e.ff.user().anonymousId;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(stored(e.storage), ['ff_aid', 'ff_consent', 'ff_first', 'ff_last', 'ff_q', 'ff_uid']);
  assert.ok(cookies(e.cookieJar).includes('_fbc'), 'Meta cookies once consented');
  e.ff.track('after');
  await e.win.fetch('https://api.shop.example/cart');
  assert.equal(xrid(e.calls[0]), id);
  await e.ff.flush();
  const [pg, ident, after] = e.sent();
  assert.ok(!('anonymousId' in pg) && pg.context.cookieless, 'queued before consent: still cookieless');
  assert.ok(!('anonymousId' in ident) && ident.userId == 'u-1');
  assert.equal(after.anonymousId, id);
  assert.equal(after.userId, 'u-1');
  assert.equal(after.context.cookieless, undefined);

  const reload = page({ storage: e.storage, cookieJar: e.cookieJar, url: SITE + 'next' });
  reload.ff.init(opts);
  assert.equal(reload.ff.user().anonymousId, id, 'consent is remembered: the same stored id');

  reload.ff.consent(false);
  assert.deepEqual(stored(reload.storage), [], 'consent(false) deletes every ff_ key');
  assert.deepEqual(cookies(reload.cookieJar), [], '... and the ff_ and Meta cookies');
  reload.ff.track('withdrawn');
  await reload.ff.flush();
  const last = reload.sent().at(-1);
  assert.equal(last.event, 'withdrawn');
  assert.ok(!('anonymousId' in last) && last.context.cookieless);
  assert.equal(last.userId, 'u-1', 'the user id stays for the life of the page');
  assert.deepEqual(stored(reload.storage), []);
  const third = page({ storage: reload.storage, cookieJar: reload.cookieJar, url: SITE });
  third.ff.init(opts);
  assert.equal(third.ff.user().anonymousId, null, 'cookieless again on the next page');
});

test('an opt-out is remembered in cookieless mode (ff_optout only)', async () => {
  const e = page();
  e.ff.init({ ...base, cookieless: true });
  e.ff.optOut();
  assert.deepEqual(stored(e.storage), ['ff_optout']);
  const next = page({ storage: e.storage, cookieJar: e.cookieJar, url: SITE });
  next.ff.init({ ...base, cookieless: true, autoPage: true });
  next.ff.track('x');
  await next.ff.flush();
  assert.equal(next.calls.length, 0);
});

test('requireConsent with cookieless: true holds events, then sends them cookieless', async () => {
  const e = page();
  e.ff.init({ ...base, cookieless: true, requireConsent: true });
  e.ff.track('a');
  await e.ff.flush();
  assert.equal(e.calls.length, 0);
  e.ff.consent(true);
  await e.ff.flush();
  assert.deepEqual(e.sent().map((m) => [m.event, m.anonymousId, m.context.cookieless]), [['a', undefined, true]]);
  assert.deepEqual(stored(e.storage), [], 'even the consent is not kept in this mode');
});

test("'until-consent' with localStorage blocked: the id goes to a cookie, and consent(false) removes it", async () => {
  const cookieJar = new CookieJar();
  const e = env({ blockStorage: true, cookieJar, url: SITE });
  e.ff.init({ ...base, cookieless: 'until-consent' });
  assert.deepEqual(cookies(cookieJar), []);
  e.ff.consent(true);
  const id = e.ff.user().anonymousId;
  assert.ok(cookies(cookieJar).includes('ff_aid') && e.doc.cookie.includes('ff_aid=' + id));
  e.ff.consent(false);
  assert.deepEqual(cookies(cookieJar), []);
  assert.equal(e.ff.user().anonymousId, null);
});
