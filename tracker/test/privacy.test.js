import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, memStorage, base } from './helpers.js';

test('optOut sends nothing, clears the queue and persists; optIn resumes', async () => {
  const storage = memStorage();
  const e = env({ storage });
  e.ff.init(base);
  e.ff.track('before');
  e.ff.optOut();
  assert.equal(e.ff._queue().length, 0);
  e.ff.track('during');
  await e.ff.flush();
  e.win.dispatchEvent(new e.win.Event('pagehide'));
  assert.equal(e.calls.length, 0);
  const reload = env({ storage });
  reload.ff.init({ ...base, autoPage: true });
  reload.ff.track('still out');
  await reload.ff.flush();
  assert.equal(reload.calls.length, 0);
  assert.equal(reload.ff._queue().length, 0);
  reload.ff.optIn();
  reload.ff.track('back');
  await reload.ff.flush();
  assert.deepEqual(reload.sent().map((m) => m.event), ['back']);
});

test('requireConsent holds events until consent(true)', async () => {
  const storage = memStorage();
  const e = env({ storage, url: 'https://shop.example/?fbclid=F' });
  e.ff.init({ ...base, requireConsent: true, autoPage: true });
  e.ff.track('a');
  await e.ff.flush();
  assert.equal(e.calls.length, 0);
  assert.equal(e.ff._queue().length, 0, 'nothing stored before consent');
  assert.ok(!e.doc.cookie.includes('_fbp'), 'no Meta cookies before consent');
  e.ff.consent(true);
  assert.match(e.doc.cookie, /_fbc=fb\.1\.\d+\.F/);
  await e.ff.flush();
  assert.deepEqual(e.sent().map((m) => m.type + ':' + (m.event || '')), ['page:', 'track:a']);
  const next = env({ storage });
  next.ff.init({ ...base, requireConsent: true });
  next.ff.track('b');
  await next.ff.flush();
  assert.deepEqual(next.sent().map((m) => m.event), ['b'], 'consent is remembered');
});

test('consent(false) drops held events', async () => {
  const e = env();
  e.ff.init({ ...base, requireConsent: true });
  e.ff.track('a');
  e.ff.consent(false);
  e.ff.track('b');
  await e.ff.flush();
  assert.equal(e.calls.length, 0);
  assert.equal(e.ff._queue().length, 0);
});

test('Do Not Track is honoured only with respectDNT', async () => {
  const e = env({ dnt: true });
  e.ff.init({ ...base, respectDNT: true, autoPage: true });
  e.ff.track('a');
  await e.ff.flush();
  assert.equal(e.calls.length, 0);
  assert.equal(e.ff._queue().length, 0);
  const f = env({ dnt: true });
  f.ff.init(base);
  f.ff.track('a');
  await f.ff.flush();
  assert.equal(f.calls.length, 1);
});
