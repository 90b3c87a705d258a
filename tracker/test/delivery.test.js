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
  assert.equal(e.ff._queue().length, 1, 'kept (beaconed, unconfirmed) until a fetch answers');
  e.ff.track('b');
  Object.defineProperty(e.doc, 'visibilityState', { configurable: true, value: 'hidden' });
  e.doc.dispatchEvent(new e.win.Event('visibilitychange'));
  assert.equal(beacons.length, 2);
  const second = JSON.parse(await beacons[1].blob.text());
  assert.deepEqual(second.batch.map((m) => m.event), ['b'], 'a just-beaconed event is not beaconed again');
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

// ---- beaconed events: kept until a fetch confirms them ----

// Date.now (the tracker's clock) under the test's control.
function clock() {
  const real = Date.now;
  let t = real();
  Date.now = () => t;
  return { advance: (ms) => (t += ms), restore: () => (Date.now = real) };
}
const tick = () => new Promise((r) => setImmediate(r));
// Run the latest pending timer (a scheduled flush) and let its request settle.
async function run(e) {
  const t = live(e.timers).at(-1);
  t.cleared = true;
  t.fn();
  await tick();
}
const beaconing = (beacons) => ({
  before: (w) => (w.navigator.sendBeacon = (url, blob) => (beacons.push(blob), true)),
});
const stored = (storage) => JSON.parse(storage.getItem('ff_q') || '[]');
const hide = (e) => {
  Object.defineProperty(e.doc, 'visibilityState', { configurable: true, value: 'hidden' });
  e.doc.dispatchEvent(new e.win.Event('visibilitychange'));
};

test('beaconed events survive a reload and are resent once, after a grace period, with the same messageIds', async () => {
  const c = clock();
  try {
    const storage = memStorage();
    const beacons = [];
    const a = env({ storage, ...beaconing(beacons) });
    a.ff.init(base);
    a.ff.track('a');
    a.ff.track('b');
    const ids = a.ff._queue().map((m) => m.messageId);
    a.win.dispatchEvent(new a.win.Event('pagehide'));
    assert.equal(beacons.length, 1);
    assert.deepEqual(JSON.parse(await beacons[0].text()).batch.map((m) => m.messageId), ids);
    assert.deepEqual(
      stored(storage).map((it) => [it.m.messageId, it.b, it.l]),
      ids.map((id) => [id, Date.now(), undefined]),
      'kept, marked as beaconed (with the time), not in flight'
    );
    // Nothing confirmed the beacon (the API may have been down). The next page, a second later:
    c.advance(1000);
    const b = env({ storage });
    b.ff.init(base);
    await run(b); // init's flush
    assert.equal(b.calls.length, 0, 'the beacon gets its grace period');
    assert.equal(live(b.timers).at(-1).ms, 4000, 'a flush is scheduled for the end of the grace period');
    c.advance(4000);
    await run(b);
    assert.deepEqual(b.sent().map((m) => m.messageId), ids, 'resent with the same messageIds');
    assert.equal(b.ff._queue().length, 0, 'removed by the 2xx');
    await b.ff.flush();
    c.advance(60000);
    const r = env({ storage });
    r.ff.init(base);
    await r.ff.flush();
    assert.equal(b.calls.length + r.calls.length, 1, 'resent once');
  } finally {
    c.restore();
  }
});

test('only a fetch 2xx removes beaconed events; the next flush after the grace period takes them', async () => {
  const c = clock();
  try {
    const storage = memStorage();
    const beacons = [];
    const e = env({ storage, ...beaconing(beacons), respond: (u, i, n) => status(n == 2 ? 503 : 200)() });
    e.ff.init(base);
    e.ff.track('a');
    const id = e.ff._queue()[0].messageId;
    hide(e); // the tab is hidden, then comes back: the page lives on
    assert.equal(beacons.length, 1);
    hide(e);
    assert.equal(beacons.length, 1, 'not beaconed again within the grace period');
    e.ff.track('b');
    await e.ff.flush();
    assert.deepEqual(e.calls[0].body.batch.map((m) => m.event), ['b'], 'within the grace period: only b');
    c.advance(5000);
    e.ff.track('c');
    await e.ff.flush();
    assert.deepEqual(e.calls[1].body.batch.map((m) => m.event), ['a', 'c']);
    assert.equal(e.calls[1].body.batch[0].messageId, id);
    assert.deepEqual(e.ff._queue().map((m) => m.event), ['a', 'c'], 'a 503 keeps them');
    await e.ff.flush();
    assert.deepEqual(e.calls[2].body.batch.map((m) => m.messageId), [id, e.calls[1].body.batch[1].messageId]);
    assert.deepEqual(stored(storage), [], 'gone after the 2xx');
    const n = env({ storage });
    n.ff.init(base);
    c.advance(60000);
    await n.ff.flush();
    assert.equal(n.calls.length, 0, 'nothing left for the next page');
  } finally {
    c.restore();
  }
});

test('the cap holds with beaconed events in the queue, dropping the oldest', () => {
  const storage = memStorage();
  const beacons = [];
  const opts = { ...base, maxQueue: 5, flushAt: 100 };
  const e = env({ storage, ...beaconing(beacons) });
  e.ff.init(opts);
  for (let i = 0; i < 4; i++) e.ff.track('e' + i);
  e.win.dispatchEvent(new e.win.Event('pagehide'));
  assert.equal(beacons.length, 1);
  for (let i = 4; i < 8; i++) e.ff.track('e' + i);
  assert.deepEqual(e.ff._queue().map((m) => m.event), ['e3', 'e4', 'e5', 'e6', 'e7']);
  assert.deepEqual(stored(storage).map((it) => !!it.b), [true, false, false, false, false]);
  const r = env({ storage });
  r.ff.init(opts);
  r.ff.track('e8');
  r.ff.track('e9');
  assert.deepEqual(r.ff._queue().map((m) => m.event), ['e5', 'e6', 'e7', 'e8', 'e9']);
});
