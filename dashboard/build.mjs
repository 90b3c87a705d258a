// Copies the charting library from node_modules into the analytics server's static dir, so the
// dashboard loads it from Footfall itself (no CDN: no data or page view leaves the server).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, '..', 'footfall_analytics', 'server', 'static', 'vendor');
mkdirSync(OUT, { recursive: true });
const files = [['chart.js/dist/chart.umd.min.js', 'chart.umd.min.js'], ['chart.js/LICENSE.md', 'chart.js.LICENSE.md']];
for (const [from, to] of files) {
  copyFileSync(join(HERE, 'node_modules', from), join(OUT, to));
}
process.stdout.write(`dashboard: copied ${files.length} files into ${OUT}\n`);
