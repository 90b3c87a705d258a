import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, base } from './helpers.js';

const cfg = { ...base, requestIdOrigins: ['https://api.shop.example'] };
const header = (c) => (c.init && c.init.headers ? new Headers(c.init.headers).get('X-Request-ID') : null);

test('fetch to a listed origin carries the visitor id as X-Request-ID', async () => {
  const e = env();
  e.ff.init(cfg);
  const id = e.ff.user().anonymousId;
  await e.win.fetch('https://api.shop.example/cart', { method: 'POST', headers: { 'X-Other': '1' } });
  await e.win.fetch(new URL('https://api.shop.example/a'));
  await e.win.fetch(new Request('https://api.shop.example/b', { headers: { Accept: 'json' } }));
  assert.equal(header(e.calls[0]), id);
  assert.equal(new Headers(e.calls[0].init.headers).get('X-Other'), '1');
  assert.equal(e.calls[0].init.method, 'POST');
  assert.equal(header(e.calls[1]), id);
  assert.equal(header(e.calls[2]), id);
  assert.equal(new Headers(e.calls[2].init.headers).get('Accept'), 'json', 'Request headers are kept');
});

test('requests to other origins are left untouched', async () => {
  const e = env();
  e.ff.init(cfg);
  const init = { headers: { A: '1' } };
  await e.win.fetch('https://cdn.example/x', init);
  await e.win.fetch('/same-origin');
  await e.win.fetch('https://api.shop.example.evil.com/x');
  assert.equal(e.calls[0].init, init, 'same init object passed through');
  assert.equal(e.calls[1].init, undefined);
  assert.equal(e.calls[2].init, undefined);
});

test('same origin only when requestIdSameOrigin is set', async () => {
  const e = env();
  e.ff.init({ ...base, requestIdSameOrigin: true });
  await e.win.fetch('/api/x');
  await e.win.fetch('https://other.example/x');
  assert.equal(header(e.calls[0]), e.ff.user().anonymousId);
  assert.equal(e.calls[1].init, undefined);
});

test("the tracker's own API calls get no X-Request-ID unless listed", async () => {
  const e = env();
  e.ff.init(cfg);
  e.ff.track('x');
  await e.ff.flush();
  assert.equal(e.calls.length, 1);
  assert.equal(header(e.calls[0]), null);
  const l = env();
  l.ff.init({ ...cfg, requestIdOrigins: ['https://t.example'] });
  l.ff.track('x');
  await l.ff.flush();
  assert.equal(header(l.calls[0]), l.ff.user().anonymousId);
});

test('XMLHttpRequest to a listed origin gets the header, others do not', () => {
  const set = [];
  const e = env({
    before: (w) => {
      w.XMLHttpRequest.prototype.setRequestHeader = function (k, v) {
        set.push([this._ffu, k, v]);
      };
      w.XMLHttpRequest.prototype.send = function () {};
    },
  });
  e.ff.init(cfg);
  const x1 = new e.win.XMLHttpRequest();
  x1.open('GET', 'https://api.shop.example/orders');
  x1.send();
  const x2 = new e.win.XMLHttpRequest();
  x2.open('GET', 'https://elsewhere.example/orders');
  x2.send();
  assert.deepEqual(set, [['https://api.shop.example/orders', 'X-Request-ID', e.ff.user().anonymousId]]);
});

test('no X-Request-ID when the visitor opted out', async () => {
  const e = env();
  e.ff.init(cfg);
  e.ff.optOut();
  await e.win.fetch('https://api.shop.example/cart');
  assert.equal(e.calls[0].init, undefined);
});
