// server-api/www/build.mjs — builds the dashboard (make www): bundles
// src/main.tsx (Preact, Chart.js) with esbuild into OUT/assets/, copies
// index.html. No source maps, no outside URL: everything the page loads
// comes from mamori-server itself (CSP: api_web.h).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) { console.error('usage: node build.mjs OUTDIR'); process.exit(2); }
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: join(out, 'assets/app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/style.css'), join(out, 'assets/app.css'));
writeFileSync(join(out, 'index.html'), readFileSync(join(here, 'index.html')));
