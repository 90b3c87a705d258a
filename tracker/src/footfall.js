// Footfall browser tracker. No dependencies; create(window) returns the public API.
export var VERSION = '0.1.0';

var CLICK_IDS = ['gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'ttclid'];
var UTM = ['source', 'medium', 'campaign', 'term', 'content'];
var P = 'ff_'; // storage key prefix
var DAY = 864e5;
var GRACE = 5e3; // ms a beacon gets to land before its events are sent again with fetch

export function create(win) {
  var doc = win.document;
  var nav = win.navigator || {};
  var loc = win.location;
  var cfg = {};
  var api = {};
  var started = false;
  var pending = []; // events held until consent
  var timer = 0;
  var attempt = 0;
  var busy = false;
  var wake = 0; // ms until the next beaconed event is due again (set by take)
  var lastSection = null;
  var lastSectionAt = 0;
  var now = function () {
    return Date.now();
  };

  // ---- storage: localStorage, then a first-party cookie, then memory ----
  var ls = null;
  try {
    ls = win.localStorage;
    ls.setItem(P + 't', '1');
    ls.removeItem(P + 't');
  } catch (e) {
    ls = null;
  }
  var mem = {};
  var cl = false; // cookieless now: get/set use memory only, nothing is kept in the browser
  var cookieDomain;

  function readCookie(k) {
    try {
      var m = doc.cookie.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
      return m ? decodeURIComponent(m[1]) : null;
    } catch (e) {
      return null;
    }
  }
  function writeCookie(k, v, days, domain) {
    try {
      doc.cookie =
        k + '=' + encodeURIComponent(v) + ';path=/;max-age=' + Math.round(days * 86400) + ';samesite=lax' +
        (domain ? ';domain=' + domain : '') + (loc.protocol == 'https:' ? ';secure' : '');
    } catch (e) {}
  }
  // The widest domain that accepts a cookie (example.com for www.example.com), like analytics.js.
  function topDomain() {
    if (cookieDomain === undefined) {
      cookieDomain = '';
      var parts = loc.hostname.split('.');
      if (!/^[\d.]+$/.test(loc.hostname))
        for (var i = 2; i <= parts.length; i++) {
          var d = parts.slice(-i).join('.');
          writeCookie(P + 'd', '1', 1 / 86400, d);
          if (readCookie(P + 'd')) {
            writeCookie(P + 'd', '', -1, d);
            cookieDomain = d;
            break;
          }
        }
    }
    return cookieDomain;
  }
  function get(k, small) {
    if (cl && k != 'optout') return k in mem ? mem[k] : null;
    if (ls)
      try {
        return ls.getItem(P + k);
      } catch (e) {}
    var c = small && readCookie(P + k);
    return c != null && c !== false ? c : k in mem ? mem[k] : null;
  }
  function set(k, v, small) {
    if (cl && k != 'optout') return v == null ? delete mem[k] : (mem[k] = v);
    if (v == null) {
      delete mem[k];
      if (ls)
        try {
          ls.removeItem(P + k);
        } catch (e) {}
      else if (small) writeCookie(P + k, '', -1, topDomain());
      return;
    }
    if (ls)
      try {
        return ls.setItem(P + k, v);
      } catch (e) {}
    if (small) {
      writeCookie(P + k, v, 365, topDomain());
      if (readCookie(P + k) == v) return;
    }
    mem[k] = v;
  }
  function getJSON(k, d) {
    try {
      return JSON.parse(get(k)) || d;
    } catch (e) {
      return d;
    }
  }
  function setJSON(k, v) {
    set(k, JSON.stringify(v));
  }
  // Switch between stored and cookieless mode, carrying this page's state over. Entering the
  // cookieless mode deletes the tracker's ff_ keys and cookies and Meta's cookies.
  var KEYS = ['aid', 'uid', 'first', 'last', 'q', 'consent'];
  function mode(cookieless) {
    if (cookieless == cl) return;
    var keep = {};
    KEYS.forEach(function (k) {
      keep[k] = get(k, 1);
      if (!cl) set(k, null); // cookies: below, only those that exist
    });
    if (!cl)
      KEYS.concat(['_fbp', '_fbc']).forEach(function (k) {
        k = k[0] == '_' ? k : P + k;
        if (readCookie(k) != null) writeCookie(k, '', -1, topDomain());
      });
    mem = {};
    cl = cookieless;
    KEYS.forEach(function (k) {
      if (keep[k] != null && !(cl && k == 'aid')) set(k, keep[k], /id|co/.test(k));
    });
  }

  function uuid() {
    var c = win.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = '';
    for (i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + (i == 3 || i == 5 || i == 7 || i == 9 ? '-' : '');
    return h;
  }

  // ---- identity ----
  function anonymousId() {
    if (cl) return null;
    var id = get('aid', 1);
    if (!id) set('aid', (id = uuid()), 1);
    return id;
  }

  // ---- privacy ----
  function dnt() {
    return cfg.respectDNT && (nav.doNotTrack == '1' || win.doNotTrack == '1' || nav.globalPrivacyControl === true);
  }
  function blocked() {
    return get('optout', 1) == '1' || dnt();
  }
  function consented() {
    return !cfg.requireConsent || get('consent', 1) == '1';
  }
  function allowed() {
    return !blocked() && consented();
  }

  // ---- X-Request-ID on fetch / XMLHttpRequest to listed origins ----
  function origin(u) {
    try {
      return new URL(u, loc.href).origin;
    } catch (e) {
      return null;
    }
  }
  function wantsId(url) {
    var o = origin(url);
    return (
      o &&
      !cl &&
      allowed() &&
      ((cfg.requestIdSameOrigin && o == loc.origin) || (cfg.requestIdOrigins || []).map(origin).indexOf(o) >= 0)
    );
  }
  function wrapRequests() {
    var f = win.fetch;
    if (f && !f._ff) {
      win.fetch = function (input, init) {
        try {
          var isReq = win.Request && input instanceof win.Request;
          if (wantsId(isReq ? input.url : String(input))) {
            init = Object.assign({}, init);
            var h = new win.Headers(init.headers || (isReq ? input.headers : undefined));
            h.set('X-Request-ID', anonymousId());
            init.headers = h;
          }
        } catch (e) {}
        return f.call(this, input, init);
      };
      win.fetch._ff = 1;
    }
    var X = win.XMLHttpRequest && win.XMLHttpRequest.prototype;
    if (X && !X._ff) {
      X._ff = 1;
      var open = X.open;
      var send = X.send;
      X.open = function (m, url) {
        this._ffu = String(url);
        return open.apply(this, arguments);
      };
      X.send = function () {
        try {
          if (wantsId(this._ffu)) this.setRequestHeader('X-Request-ID', anonymousId());
        } catch (e) {}
        return send.apply(this, arguments);
      };
    }
  }

  // ---- campaigns and Meta browser ids ----
  function campaign() {
    var q = new URLSearchParams(loc.search);
    var t = {};
    var any = 0;
    UTM.forEach(function (k) {
      var v = q.get('utm_' + k);
      if (v) t[k == 'campaign' ? 'name' : k] = v, any = 1;
    });
    CLICK_IDS.forEach(function (k) {
      var v = q.get(k);
      if (v) t[k] = v, any = 1;
    });
    if (!any) return;
    t.timestamp = new Date().toISOString();
    t.url = loc.href;
    if (doc.referrer) t.referrer = doc.referrer;
    if (!get('first')) setJSON('first', t);
    setJSON('last', t);
  }
  function metaIds() {
    if (cfg.metaCookies === false || cl) return;
    // _fbc = fb.1.<ms of the click (landing)>.<fbclid>, _fbp = fb.1.<ms created>.<random>
    var t = getJSON('last', {});
    var fbc = readCookie('_fbc');
    if (t.fbclid && (!fbc || fbc.split('.').slice(3).join('.') != t.fbclid))
      writeCookie('_fbc', 'fb.1.' + Date.parse(t.timestamp) + '.' + t.fbclid, 90, topDomain());
    if (!readCookie('_fbp'))
      writeCookie('_fbp', 'fb.1.' + now() + '.' + (1e9 + Math.floor(Math.random() * 9e9)), 90, topDomain());
  }

  // ---- sections ----
  function sectionOf(el) {
    var s = el && el.closest && el.closest('[data-ff-section]');
    return s ? s.getAttribute('data-ff-section') : null;
  }

  // ---- messages ----
  function pageInfo() {
    return {
      path: loc.pathname,
      referrer: doc.referrer,
      search: loc.search,
      title: doc.title,
      url: loc.href,
    };
  }
  function message(type, fields, opts) {
    var last = getJSON('last', null);
    var ctx = {
      library: { name: 'footfall.js', version: VERSION },
      page: pageInfo(),
      userAgent: nav.userAgent,
      locale: nav.language,
      screen: win.screen ? { width: win.screen.width, height: win.screen.height } : undefined,
    };
    try {
      ctx.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {}
    if (last) {
      ctx.campaign = {};
      for (var k in last) if (k != 'timestamp' && k != 'url' && k != 'referrer') ctx.campaign[k] = last[k];
      ctx.lastTouch = last;
      ctx.firstTouch = getJSON('first', null);
    }
    var fbc = !cl && readCookie('_fbc');
    var fbp = !cl && readCookie('_fbp');
    if (fbc) ctx.fbc = fbc;
    if (fbp) ctx.fbp = fbp;
    if (cl) ctx.cookieless = true; // the API derives the visitor id (no anonymousId to send)
    var m = Object.assign(
      {
        type: type,
        messageId: uuid(),
        anonymousId: anonymousId() || undefined,
        timestamp: new Date().toISOString(),
        context: Object.assign(ctx, opts && opts.context),
      },
      fields
    );
    var uid = get('uid', 1);
    if (uid) m.userId = uid;
    if (type != 'identify' && type != 'alias') {
      var p = (m.properties = Object.assign({}, m.properties));
      var s = opts && opts.element ? sectionOf(opts.element) : now() - lastSectionAt < cfg.sectionWindow ? lastSection : null;
      if (s && !p.section) p.section = s;
    }
    return m;
  }
  function emit(m) {
    if (blocked()) return;
    if (!consented()) return pending.push(m);
    enqueue([m]);
  }

  // ---- durable queue, shared by tabs; items are {m: message, l: in flight, e: lock expiry,
  // b: when last handed to sendBeacon (unconfirmed: kept until a fetch answers 2xx)} ----
  function queue() {
    return getJSON('q', []);
  }
  function enqueue(ms) {
    var q = queue().concat(
      ms.map(function (m) {
        return { m: m };
      })
    );
    if (q.length > cfg.maxQueue) q = q.slice(q.length - cfg.maxQueue);
    setJSON('q', q);
    if (q.length >= cfg.flushAt) flush();
    else schedule(cfg.flushInterval);
  }
  function schedule(ms) {
    if (!timer && started)
      timer = win.setTimeout(function () {
        timer = 0;
        flush();
      }, ms);
  }
  // Take up to `max` events not in flight (or with a stale lock) nor beaconed in the last GRACE ms, and
  // mark them in flight.
  function take(max, bytes, lockMs) {
    var q = queue();
    var t = now();
    var out = [];
    var size = 0;
    wake = 0;
    for (var i = 0; i < q.length && out.length < max; i++) {
      var it = q[i];
      if (it.l && it.e > t) continue; // in flight here or in another tab
      var a = t - it.b; // NaN when never beaconed
      if (a >= 0 && a < GRACE) {
        wake = Math.min(wake || GRACE, GRACE - a);
        continue;
      }
      var n = JSON.stringify(it.m).length;
      if (size + n > bytes && out.length) break;
      size += n;
      it.l = 1;
      it.e = t + lockMs;
      out.push(it.m);
    }
    if (out.length) setJSON('q', q);
    return out;
  }
  // Remove (done) or unlock the given events; `beaconed` also stamps them with the time (b).
  function release(ms, done, beaconed) {
    var ids = ms.map(function (m) {
      return m.messageId;
    });
    var t = now();
    setJSON(
      'q',
      queue().filter(function (it) {
        if (ids.indexOf(it.m.messageId) < 0) return 1;
        if (!done) {
          delete it.l, delete it.e;
          if (beaconed) it.b = t;
        }
        return !done;
      })
    );
  }
  function body(ms) {
    return JSON.stringify({ batch: ms, sentAt: new Date().toISOString(), writeKey: cfg.writeKey });
  }
  function endpoint() {
    return cfg.apiHost.replace(/\/$/, '') + '/v1/batch';
  }
  function retryAfter(res) {
    var h = res.headers && res.headers.get('Retry-After');
    if (!h) return 0;
    var s = +h;
    return isNaN(s) ? Math.max(0, Date.parse(h) - now()) : s * 1e3;
  }
  function backoff() {
    var d = Math.min(cfg.maxBackoff, cfg.minBackoff * Math.pow(2, attempt++));
    return d / 2 + Math.random() * (d / 2);
  }

  function flush() {
    if (!started || busy || !allowed() || !win.fetch) return Promise.resolve();
    win.clearTimeout(timer);
    timer = 0;
    var ms = take(cfg.batchSize, 4e5, 6e4);
    if (!ms.length) {
      if (wake) schedule(wake); // beaconed events wait out their grace, then go again
      return Promise.resolve();
    }
    busy = true;
    var b = body(ms);
    var retry = function (wait) {
      release(ms, 0);
      busy = false;
      schedule(Math.max(wait || 0, backoff()));
    };
    return win
      .fetch(endpoint(), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: b, keepalive: b.length < 3e4 })
      .then(
        function (res) {
          var st = res.status;
          if (st == 429 || st >= 500) return retry(retryAfter(res));
          // 2xx, or a 4xx that a retry cannot fix: done with these events either way.
          release(ms, 1);
          busy = false;
          attempt = 0;
          if (queue().length) schedule(st < 300 ? 0 : cfg.flushInterval);
        },
        function () {
          retry(0);
        }
      );
  }
  // Page is going away: hand what is not in flight to the browser. sendBeacon's answer is unknown (true
  // only means queued), so its events stay in the queue marked as beaconed: once GRACE ms have passed, the
  // next flush (of this page if it lives on, of another tab, or of the next page) sends them again with
  // fetch, with the same messageIds, and only its answer removes them. With the fetch fallback they stay marked in flight until the answer (if the
  // page dies first, the mark expires and the next page resends them).
  function beaconFlush() {
    if (!started || !allowed()) return;
    for (var guard = 0; guard < 10; guard++) {
      var ms = take(cfg.batchSize, 3e4, 1e4);
      if (!ms.length) return;
      var b = body(ms);
      try {
        if (nav.sendBeacon && nav.sendBeacon(endpoint(), new win.Blob([b], { type: 'text/plain' }))) {
          release(ms, 0, 1);
          continue;
        }
      } catch (e) {}
      if (win.fetch)
        win
          .fetch(endpoint(), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: b, keepalive: true })
          .then(
            function (r) {
              release(ms, r.status < 500 && r.status != 429);
            },
            function () {
              release(ms, 0);
            }
          );
      return;
    }
  }

  // ---- autocapture ----
  var FIELD = /^(input|textarea|select|option|script|style)$/i;
  // Visible text without anything typed: skips form fields and contenteditable regions.
  function textOf(el) {
    if (FIELD.test(el.tagName) || el.getAttribute('contenteditable') != null) return '';
    var s = '';
    for (var n = el.firstChild; n && s.length < 200; n = n.nextSibling)
      s += ' ' + (n.nodeType == 3 ? n.nodeValue : n.nodeType == 1 ? textOf(n) : '');
    return s;
  }
  function describe(el) {
    var tag = el.tagName.toLowerCase();
    var p = { tag: tag };
    var field = FIELD.test(tag);
    var text = textOf(el).replace(/\s+/g, ' ').trim();
    if (text) p.text = text.length > 80 ? text.slice(0, 80) + '…' : text;
    var id = el.getAttribute('id');
    if (id) p.id = id;
    var cls = el.getAttribute('class');
    if (cls && cls.trim()) p.classes = cls.trim().split(/\s+/);
    var href = el.getAttribute('href');
    if (href) p.href = el.href || href;
    if (field && el.type) p.type = el.type;
    var nm = el.getAttribute('name');
    if (nm) p.name = nm;
    return p;
  }
  function noteSection(e) {
    lastSection = sectionOf(e.target);
    lastSectionAt = now();
  }
  function onClick(e) {
    if (!cfg.autocapture || !e.target || !e.target.closest) return;
    var el =
      e.target.closest('a,button,input,select,textarea,label,summary,[role=button],[role=link],[data-ff-event]') ||
      e.target;
    if (el.closest('[data-ff-ignore]')) return;
    var p = describe(el);
    var s = sectionOf(el);
    if (s) p.section = s;
    api.track(el.getAttribute('data-ff-event') || 'Element Clicked', p, { element: el });
  }
  function onSubmit(e) {
    var f = e.target;
    if (!cfg.autocapture || !f || !f.tagName || f.closest('[data-ff-ignore]')) return;
    var p = describe(f);
    p.action = f.getAttribute('action') || loc.href;
    p.method = (f.getAttribute('method') || 'get').toLowerCase();
    p.fields = f.elements ? f.elements.length : 0;
    api.track('Form Submitted', p, { element: f });
  }

  // ---- public API ----
  api.init = function (options) {
    cfg = Object.assign(
      {
        apiHost: '',
        writeKey: '',
        requestIdOrigins: [],
        requestIdSameOrigin: false,
        autocapture: true,
        autoPage: true,
        trackHistory: false,
        requireConsent: false,
        respectDNT: false,
        metaCookies: true,
        flushAt: 20,
        flushInterval: 2000,
        batchSize: 100,
        maxQueue: 1000,
        minBackoff: 1000,
        maxBackoff: 6e4,
        sectionWindow: 1000,
      },
      options
    );
    if (started) return api;
    started = true;
    // 'until-consent': cookieless until consent(true), remembered in storage from then on
    mode(cfg.cookieless === true || (!!cfg.cookieless && get('consent', 1) != '1'));
    anonymousId();
    wrapRequests();
    if (!blocked()) campaign();
    if (allowed()) metaIds();
    win.addEventListener('click', noteSection, true);
    win.addEventListener('submit', noteSection, true);
    doc.addEventListener('click', onClick, true);
    doc.addEventListener('submit', onSubmit, true);
    win.addEventListener('pagehide', beaconFlush);
    doc.addEventListener('visibilitychange', function () {
      if (doc.visibilityState == 'hidden') beaconFlush();
    });
    if (cfg.trackHistory && win.history) {
      var h = win.history;
      var push = h.pushState;
      h.pushState = function () {
        var r = push.apply(h, arguments);
        api.page();
        return r;
      };
      win.addEventListener('popstate', function () {
        api.page();
      });
    }
    if (cfg.autoPage) {
      var ref = origin(doc.referrer);
      api.page(null, { landing: ref != loc.origin });
    }
    schedule(0);
    return api;
  };
  api.track = function (event, properties, options) {
    emit(message('track', { event: event, properties: properties }, options));
  };
  api.page = function (name, properties, options) {
    var f = { properties: Object.assign(pageInfo(), properties) };
    if (name) f.name = f.properties.name = name;
    emit(message('page', f, options));
  };
  api.identify = function (userId, traits, options) {
    if (userId != null) set('uid', String(userId), 1);
    emit(message('identify', { traits: traits || {} }, options));
  };
  api.alias = function (newId, options) {
    var prev = get('uid', 1) || anonymousId();
    set('uid', String(newId), 1);
    emit(message('alias', { previousId: prev, userId: String(newId) }, options));
  };
  api.reset = function () {
    set('uid', null, 1);
    if (!cl) set('aid', uuid(), 1);
  };
  api.optOut = function () {
    set('optout', '1', 1);
    setJSON('q', []);
    pending = [];
  };
  api.optIn = function () {
    set('optout', null, 1);
    if (started) metaIds(), schedule(0);
  };
  api.consent = function (yes) {
    if (cfg.cookieless && cfg.cookieless !== true) mode(!yes);
    set('consent', yes ? '1' : '0', 1);
    var held = pending;
    pending = [];
    if (yes && !blocked()) {
      metaIds();
      if (held.length) enqueue(held);
    }
  };
  api.user = function () {
    return { anonymousId: anonymousId(), userId: get('uid', 1) };
  };
  api.campaign = function () {
    return { firstTouch: getJSON('first', null), lastTouch: getJSON('last', null) };
  };
  api.flush = flush;
  api._beacon = beaconFlush;
  api._queue = function () {
    return queue().map(function (it) {
      return it.m;
    });
  };
  return api;
}
