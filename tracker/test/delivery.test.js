import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, memStorage, base } from './helpers.js';

const status = (s, headers) => () => new Response('{}', { status: s, headers });
const live = (timers) => timers.filter((t) => !t.cleared);

test('batches to /v1/batch with writeKey and sentAt, flushAt triggers a send', async () => {
  const e = env();
  e.ff.init({ ...base, flushAt: 3 });
  assert.deepEqual(live(e.timers).map((t) => t.ms), [0], 'init flushes what earlier pages left');
  e.timers.pop().fn();
  e.ff.track('a');
  e.ff.track('b');
  assert.equal(e.calls.length, 0);
  assert.ok(live(e.timers).some((t) => t.ms === 2000), 'flushInterval timer');
  e.ff.track('c');
  await new Promise((r) => setImmediate(r));
  assert.equal(e.calls.length, 1);
  const c = e.calls[0];
  assert.equal(c.url, 'https://t.example/v1/batch');
  assert.equal(c.init.method, 'POST');
  assert.equal(c.init.keepalive, true);
  assert.equal(c.body.writeKey, 'wk');
  assert.ok(Date.parse(c.body.sentAt));
  assert.deepEqual(c.body.batch.map((m) => m.event), ['a', 'b', 'c']);
  assert.equal(e.ff._queue().length, 0, 'removed after 2xx');
});

test('the queue survives reloads (new instance over the same storage) with the same messageIds', async () => {
  const storage = memStorage();
  const a = env({ storage, respond: () => Promise.reject(new TypeError('offline')) });
  a.ff.init(base);
  a.ff.track('a');
  a.ff.track('b');
  const ids = a.ff._queue().map((m) => m.messageId);
  await a.ff.flush();
  assert.equal(a.calls.length, 1);
  assert.deepEqual(a.ff._queue().map((m) => m.messageId), ids, 'kept after a network error');
  const b = env({ storage });
  b.ff.init(base);
  await b.ff.flush();
  assert.deepEqual(b.sent().map((m) => m.messageId), ids);
  assert.equal(b.ff._queue().length, 0);
});

test('the durable queue is capped, dropping the oldest', () => {
  const e = env();
  e.ff.init({ ...base, maxQueue: 5, flushAt: 100 });
  for (let i = 0; i < 8; i++) e.ff.track('e' + i);
  assert.deepEqual(e.ff._queue().map((m) => m.event), ['e3', 'e4', 'e5', 'e6', 'e7']);
});

test('exponential backoff with jitter on 5xx and network errors; messageId stable across retries', async () => {
  const e = env({ respond: (u, i, n) => (n == 2 ? Promise.reject(new TypeError('x')) : status(503)()) });
  e.ff.init({ ...base, minBackoff: 1000, maxBackoff: 60000 });
  e.ff.track('a');
  const delays = [];
  for (let i = 0; i < 6; i++) {
    e.timers.length = 0;
    await e.ff.flush();
    delays.push(live(e.timers).at(-1).ms);
  }
  delays.forEach((d, i) => {
    const full = Math.min(60000, 1000 * 2 ** i);
    assert.ok(d >= full / 2 && d <= full, `attempt ${i}: ${d} within [${full / 2}, ${full}]`);
  });
  const ids = new Set(e.sent().map((m) => m.messageId));
  assert.equal(e.calls.length, 6);
  assert.equal(ids.size, 1, 'every retry sends the same messageId');
  assert.equal(e.ff._queue().length, 1);
});

test('429 is retried after Retry-After', async () => {
  const e = env({ respond: status(429, { 'Retry-After': '30' }) });
  e.ff.init(base);
  e.ff.track('a');
  e.timers.length = 0;
  await e.ff.flush();
  assert.ok(live(e.timers).at(-1).ms >= 30000);
  assert.equal(e.ff._queue().length, 1);
  const d = env({ respond: status(503, { 'Retry-After': new Date(Date.now() + 20000).toUTCString() }) });
  d.ff.init(base);
  d.ff.track('a');
  d.timers.length = 0;
  await d.ff.flush();
  assert.ok(live(d.timers).at(-1).ms >= 18000);
});

test('4xx other than 429 is never retried', async () => {
  for (const s of [400, 401, 413]) {
    const e = env({ respond: status(s) });
    e.ff.init(base);
    e.ff.track('a');
    e.timers.length = 0;
    await e.ff.flush();
    assert.equal(e.ff._queue().length, 0, `${s} dropped`);
    assert.equal(live(e.timers).length, 0, `${s} not rescheduled`);
    await e.ff.flush();
    assert.equal(e.calls.length, 1);
  }
});

test('two tabs do not send the same queued event at once', async () => {
  const storage = memStorage();
  let release;
  const a = env({ storage, respond: () => new Promise((r) => (release = r)) });
  const b = env({ storage });
  a.ff.init(base);
  b.ff.init(base);
  a.ff.track('a1');
  b.ff.track('b1');
  const pa = a.ff.flush(); // both in flight in tab A
  b.ff.track('b2');
  await b.ff.flush();
  assert.deepEqual(b.sent().map((m) => m.event), ['b2']);
  release(new Response('{}', { status: 200 }));
  await pa;
  assert.deepEqual(a.sent().map((m) => m.event), ['a1', 'b1']);
  assert.equal(a.ff._queue().length, 0);
});

test('a stale in-flight mark (tab closed mid-request) is picked up again', async () => {
  const storage = memStorage();
  const a = env({ storage, respond: () => new Promise(() => {}) });
  a.ff.init(base);
  a.ff.track('a');
  a.ff.flush();
  const q = JSON.parse(storage.getItem('ff_q'));
  q[0].e = Date.now() - 1;
  storage.setItem('ff_q', JSON.stringify(q));
  const b = env({ storage });
  b.ff.init(base);
  await b.ff.flush();
  assert.deepEqual(b.sent().map((m) => m.event), ['a']);
});

test('pagehide and visibilitychange=hidden flush with sendBeacon (text/plain Blob)', async () => {
  const beacons = [];
  const e = env({
    before: (w) => (w.navigator.sendBeacon = (url, blob) => (beacons.push({ url, blob }), true)),
  });
  e.ff.init(base);
  e.ff.track('a');
  e.win.dispatchEvent(new e.win.Event('pagehide'));
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].url, 'https://t.example/v1/batch');
  assert.equal(beacons[0].blob.type, 'text/plain');
  const body = JSON.parse(await beacons[0].blob.text());
  assert.equal(body.writeKey, 'wk');
  assert.deepEqual(body.batch.map((m) => m.event), ['a']);
  assert.equal(e.ff._queue().length, 0);
  e.ff.track('b');
  Object.defineProperty(e.doc, 'visibilityState', { configurable: true, value: 'hidden' });
  e.doc.dispatchEvent(new e.win.Event('visibilitychange'));
  assert.equal(beacons.length, 2);
});

test('without sendBeacon (or when it refuses) it falls back to fetch keepalive', async () => {
  const e = env({ before: (w) => (w.navigator.sendBeacon = () => false) });
  e.ff.init(base);
  e.ff.track('a');
  e.win.dispatchEvent(new e.win.Event('pagehide'));
  assert.equal(e.calls.length, 1);
  assert.equal(e.calls[0].init.keepalive, true);
  assert.equal(e.calls[0].init.headers['Content-Type'], 'text/plain');
  assert.equal(e.ff._queue().length, 1, 'kept (in flight) until the answer');
  await new Promise((r) => setImmediate(r));
  assert.equal(e.ff._queue().length, 0);
});
