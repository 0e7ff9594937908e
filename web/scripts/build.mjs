// Bundles the widget into web/dist/ and enforces the size budgets (gzipped):
//   dist/widget.js                 the loader, stable URL /widget.js        ≤ 3 KB
//   dist/widget/app.<hash>.js      the app, content-hashed (cache forever)  ≤ 30 KB
//   dist/widget/manifest.json      {"app": "widget/app.<hash>.js", "sizes": {...}}
// The app is built first; the loader learns its hashed name through an esbuild `define`.
// Type generation and type checking run before this (npm run build).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const BUDGETS = { 'widget.js': 3 * 1024, app: 30 * 1024 };
// The browsers of the PRD: Chrome/Edge 90+, Firefox 88+, Safari 14+ (and their mobile versions).
// esbuild knows Safari 14.0 for a destructuring bug it cannot compile around, so 14.1 is the floor.
const target = ['chrome90', 'edge90', 'firefox88', 'safari14.1', 'ios14.5'];

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  target,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: web,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'widget'), { recursive: true });

const app = await build({
  ...common,
  entryPoints: ['widget/src/app/main.tsx'],
  outdir: join(dist, 'widget'),
  entryNames: 'app.[hash]',
  metafile: true,
});
const appOut = Object.keys(app.metafile.outputs).find((p) => /app\.[^/]+\.js$/.test(p));
if (!appOut) throw new Error('build: no app bundle in the metafile');
const appPath = relative(dist, resolve(web, appOut)).replace(/\\/g, '/');

await build({
  ...common,
  entryPoints: ['widget/src/loader/index.ts'],
  outfile: join(dist, 'widget.js'),
  define: { ...common.define, __NATTER_APP_PATH__: JSON.stringify(appPath) },
});

const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const raw = (file) => readFileSync(join(dist, file)).length;
const sizes = { 'widget.js': gz('widget.js'), [appPath]: gz(appPath) };
writeFileSync(join(dist, 'widget', 'manifest.json'), JSON.stringify({ app: appPath, sizes }, null, 2) + '\n');

let over = false;
const row = (file, budget) => {
  const size = sizes[file];
  const ok = size <= budget;
  over ||= !ok;
  console.log(
    `${ok ? 'ok  ' : 'OVER'} dist/${file.padEnd(28)} ${String(raw(file)).padStart(7)} B raw ${String(size).padStart(6)} B gzip  (budget ${budget} B)`,
  );
};
row('widget.js', BUDGETS['widget.js']);
row(appPath, BUDGETS.app);
if (over) {
  console.error('build: a bundle is over its size budget');
  process.exit(1);
}
