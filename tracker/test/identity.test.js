import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, memStorage, CookieJar, base } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('visitor id is a UUID kept in localStorage across reloads and tabs', () => {
  const storage = memStorage();
  const a = env({ storage });
  a.ff.init(base);
  const id = a.ff.user().anonymousId;
  assert.match(id, UUID);
  assert.equal(storage.getItem('ff_aid'), id);
  const reload = env({ storage, url: 'https://shop.example/other' });
  reload.ff.init(base);
  assert.equal(reload.ff.user().anonymousId, id);
  const tab2 = env({ storage });
  tab2.ff.init(base);
  tab2.ff.track('x');
  assert.equal(tab2.ff._queue().at(-1).anonymousId, id);
});

test('UUID fallback without crypto.randomUUID', () => {
  const e = env({ before: (w) => Object.defineProperty(w, 'crypto', { value: { getRandomValues: (b) => crypto.getRandomValues(b) } }) });
  e.ff.init(base);
  assert.match(e.ff.user().anonymousId, UUID);
  const e2 = env({ before: (w) => Object.defineProperty(w, 'crypto', { value: undefined }) });
  e2.ff.init(base);
  assert.match(e2.ff.user().anonymousId, UUID);
});

test('falls back to a first-party cookie when localStorage is blocked', () => {
  const cookieJar = new CookieJar();
  const a = env({ blockStorage: true, cookieJar, url: 'https://www.shop.example/' });
  a.ff.init(base);
  const id = a.ff.user().anonymousId;
  assert.match(a.doc.cookie, new RegExp('ff_aid=' + id));
  const b = env({ blockStorage: true, cookieJar, url: 'https://shop.example/x' });
  b.ff.init(base);
  assert.equal(b.ff.user().anonymousId, id, 'cookie set on the top domain is seen by other hosts');
});

test('falls back to memory when storage and cookies are blocked', () => {
  const a = env({ blockStorage: true, blockCookies: true });
  a.ff.init(base);
  const id = a.ff.user().anonymousId;
  a.ff.track('one');
  a.ff.track('two');
  const q = a.ff._queue();
  assert.equal(q.length, 2);
  assert.ok(q.every((m) => m.anonymousId === id));
});

test('identify, alias and reset', () => {
  const e = env();
  e.ff.init(base);
  const anon = e.ff.user().anonymousId;
  e.ff.identify('u1', { plan: 'pro' });
  e.ff.track('after');
  e.ff.alias('u2');
  const [ident, tr, al] = e.ff._queue();
  assert.equal(ident.type, 'identify');
  assert.equal(ident.userId, 'u1');
  assert.deepEqual(ident.traits, { plan: 'pro' });
  assert.equal(ident.anonymousId, anon);
  assert.equal(tr.userId, 'u1');
  assert.deepEqual([al.type, al.previousId, al.userId], ['alias', 'u1', 'u2']);
  e.ff.reset();
  assert.notEqual(e.ff.user().anonymousId, anon);
  assert.equal(e.ff.user().userId, null);
  e.ff.track('anon again');
  assert.equal(e.ff._queue().at(-1).userId, undefined);
});
