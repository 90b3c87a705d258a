import { JSDOM, CookieJar } from 'jsdom';
import { create } from '../src/footfall.js';

export { CookieJar };

// A Storage-like object that survives "reloads" (pass the same one to several envs).
export function memStorage() {
  const data = new Map();
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => void data.set(k, String(v)),
    removeItem: (k) => void data.delete(k),
    clear: () => data.clear(),
    get length() {
      return data.size;
    },
  };
}

export const ok = () => new Response('{"success":true}', { status: 200 });

// A page with the tracker loaded (not yet initialised). Timers are recorded, not run.
export function env(o = {}) {
  const dom = new JSDOM(o.html || '<!doctype html><title>Shop</title><body></body>', {
    url: o.url || 'https://shop.example/',
    referrer: o.referrer,
    cookieJar: o.cookieJar,
  });
  const win = dom.window;
  if (o.blockStorage)
    Object.defineProperty(win, 'localStorage', {
      configurable: true,
      get() {
        throw new win.DOMException('denied', 'SecurityError');
      },
    });
  else Object.defineProperty(win, 'localStorage', { configurable: true, value: o.storage || memStorage() });
  if (o.blockCookies)
    Object.defineProperty(win.document, 'cookie', { configurable: true, get: () => '', set: () => {} });
  if (o.dnt) Object.defineProperty(win.navigator, 'doNotTrack', { configurable: true, value: '1' });
  win.document.addEventListener('click', (ev) => ev.preventDefault()); // jsdom cannot navigate
  win.Headers = Headers;
  win.Request = Request;
  const calls = [];
  const responder = o.respond || ok;
  win.fetch = async (url, init) => {
    calls.push({ url: String(url), init, body: init && typeof init.body === 'string' ? JSON.parse(init.body) : null });
    return responder(url, init, calls.length);
  };
  const timers = [];
  win.setTimeout = (fn, ms) => timers.push({ fn, ms });
  win.clearTimeout = (id) => {
    if (id && timers[id - 1]) timers[id - 1].cleared = true;
  };
  if (o.before) o.before(win);
  const ff = create(win);
  const sent = () => calls.filter((c) => c.body).flatMap((c) => c.body.batch);
  return { dom, win, doc: win.document, ff, calls, timers, sent };
}

export const base = { writeKey: 'wk', apiHost: 'https://t.example', autoPage: false, autocapture: true };
