import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, base } from './helpers.js';

const html = `<!doctype html><title>Shoes</title><body>
<nav><a id="home" class="nav  link" href="/home"><span>  Home
 page </span></a></nav>
<button id="buy" class="btn primary">Buy   now</button>
<div data-ff-section="recommendation-popup"><p>Also bought <a href="/p/2" id="rec">Socks</a></p>
  <button id="close">Close</button></div>
<form id="signup" action="/signup" method="POST"><input id="email" name="email" value="secret@example.com">
  <input type="password" name="pw" value="hunter2"><textarea name="t">private text</textarea>
  <button type="submit">Sign up</button></form>
<div data-ff-ignore><button id="ignored">x</button></div>
</body>`;

function click(e, sel) {
  e.doc.querySelector(sel).dispatchEvent(new e.win.MouseEvent('click', { bubbles: true, cancelable: true }));
}

test('landing page view with context.page and properties like analytics.js', () => {
  const e = env({ url: 'https://shop.example/shoes?x=1', referrer: 'https://google.com/', html });
  e.ff.init({ ...base, autoPage: true });
  const [p] = e.ff._queue();
  assert.equal(p.type, 'page');
  const page = { path: '/shoes', referrer: 'https://google.com/', search: '?x=1', title: 'Shoes', url: 'https://shop.example/shoes?x=1' };
  assert.deepEqual(p.context.page, page);
  assert.deepEqual(p.properties, { ...page, landing: true });
  assert.match(p.messageId, /^[0-9a-f-]{36}$/);
  assert.ok(Date.parse(p.timestamp) > 0);
  assert.equal(p.context.library.name, 'footfall.js');
  e.ff.page('Pricing', { plan: 'pro' });
  const q = e.ff._queue().at(-1);
  assert.equal(q.name, 'Pricing');
  assert.equal(q.properties.plan, 'pro');
  assert.equal(q.properties.landing, undefined);
  const inner = env({ url: 'https://shop.example/b', referrer: 'https://shop.example/a' });
  inner.ff.init({ ...base, autoPage: true });
  assert.equal(inner.ff._queue()[0].properties.landing, false);
});

test('track sends event and properties', () => {
  const e = env();
  e.ff.init(base);
  e.ff.track('Signed Up', { plan: 'pro' });
  const m = e.ff._queue()[0];
  assert.deepEqual([m.type, m.event, m.properties], ['track', 'Signed Up', { plan: 'pro' }]);
});

test('autocapture records tag, short trimmed text, id, classes, href', () => {
  const e = env({ html });
  e.ff.init(base);
  click(e, '#home span');
  click(e, '#buy');
  const [a, b] = e.ff._queue();
  assert.equal(a.event, 'Element Clicked');
  assert.deepEqual(a.properties, { tag: 'a', text: 'Home page', id: 'home', classes: ['nav', 'link'], href: 'https://shop.example/home' });
  assert.deepEqual(b.properties, { tag: 'button', text: 'Buy now', id: 'buy', classes: ['btn', 'primary'] });
});

test('autocapture never records input values', () => {
  const e = env({ html });
  e.ff.init(base);
  click(e, '#email');
  click(e, 'textarea');
  e.doc.querySelector('#signup').dispatchEvent(new e.win.Event('submit', { bubbles: true, cancelable: true }));
  const q = e.ff._queue();
  assert.equal(q.length, 3);
  assert.deepEqual(q[0].properties, { tag: 'input', id: 'email', type: 'text', name: 'email' });
  assert.equal(q[2].event, 'Form Submitted');
  assert.deepEqual(q[2].properties, { tag: 'form', text: 'Sign up', id: 'signup', action: '/signup', method: 'post', fields: 4 });
  const json = JSON.stringify(q);
  for (const secret of ['secret@example.com', 'hunter2', 'private text']) assert.ok(!json.includes(secret), secret);
});

test('autocapture can be switched off; data-ff-ignore is skipped', () => {
  const e = env({ html });
  e.ff.init({ ...base, autocapture: false });
  click(e, '#buy');
  assert.equal(e.ff._queue().length, 0);
  const i = env({ html });
  i.ff.init(base);
  click(i, '#ignored');
  assert.equal(i.ff._queue().length, 0);
});

test('sections: autocaptured events and track calls from handlers record properties.section', () => {
  const e = env({ html });
  e.ff.init(base);
  e.doc.querySelector('#close').addEventListener('click', () => e.ff.track('Popup Closed', { reason: 'x' }));
  click(e, '#rec');
  click(e, '#close');
  e.ff.track('With element', {}, { element: e.doc.querySelector('#rec') });
  e.ff.track('Explicit', { section: 'mine' }, { element: e.doc.querySelector('#rec') });
  click(e, '#buy');
  e.ff.track('Outside');
  const q = e.ff._queue();
  const by = (n) => q.filter((m) => m.event === n);
  assert.equal(by('Element Clicked')[0].properties.section, 'recommendation-popup');
  assert.equal(by('Element Clicked')[1].properties.section, 'recommendation-popup');
  assert.deepEqual(by('Popup Closed')[0].properties, { reason: 'x', section: 'recommendation-popup' });
  assert.equal(by('With element')[0].properties.section, 'recommendation-popup');
  assert.equal(by('Explicit')[0].properties.section, 'mine');
  assert.equal(by('Element Clicked')[2].properties.section, undefined);
  assert.equal(by('Outside')[0].properties.section, undefined, 'last interaction was outside any section');
});

test('the last interacted section expires after sectionWindow', () => {
  const e = env({ html });
  e.ff.init({ ...base, sectionWindow: 0 });
  click(e, '#close');
  e.ff.track('Later');
  assert.equal(e.ff._queue().at(-1).properties.section, undefined);
});
