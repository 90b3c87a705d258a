// Fails when the minified bundle is 6 KiB or more gzipped.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const LIMIT = 6144;
const raw = readFileSync(new URL('../dist/footfall.min.js', import.meta.url));
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`footfall.min.js: ${raw.length} bytes minified, ${gz} bytes gzipped (limit < ${LIMIT})`);
if (gz >= LIMIT) {
  console.error(`size check failed: ${gz} >= ${LIMIT} bytes gzipped`);
  process.exit(1);
}
