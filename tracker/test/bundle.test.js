import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

test('dist bundle is an IIFE exposing window.footfall and replays stub calls', () => {
  const js = readFileSync(new URL('../dist/footfall.min.js', import.meta.url), 'utf8');
  const dom = new JSDOM('<!doctype html><title>t</title>', { url: 'https://shop.example/', runScripts: 'outside-only' });
  const w = dom.window;
  w.eval('window.footfall = [["init", {writeKey: "wk", apiHost: "https://t.example", autoPage: false}], ["track", "Early"]]');
  w.eval(js);
  assert.equal(typeof w.footfall.track, 'function');
  assert.equal(JSON.stringify(w.footfall._queue().map((m) => m.event)), '["Early"]');
  assert.equal(Object.keys(w).filter((k) => /^[a-z]$/.test(k)).length, 0, 'no leaked globals');
  w.close();
});
