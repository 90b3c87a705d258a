// Browser entry: window.footfall. Calls made on a stub array before the script loaded are replayed.
import { create } from './footfall.js';

var w = window;
var stub = w.footfall;
var ff = create(w);
w.footfall = ff;
if (stub && stub.length && stub.forEach)
  stub.forEach(function (c) {
    if (ff[c[0]]) ff[c[0]].apply(ff, [].slice.call(c, 1));
  });
