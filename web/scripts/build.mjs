// Bundles the widget and the agent workspace into web/dist/ and enforces the size budgets
// (gzipped):
//   dist/widget.js                 the loader, stable URL /widget.js        ≤ 3 KB
//   dist/widget/app.<hash>.js      the app, content-hashed (cache forever)  ≤ 30 KB
//   dist/widget/manifest.json      {"app": "widget/app.<hash>.js", "sizes": {...}}
//   dist/app/app.<hash>.js + .css  the agent workspace (served at /app)     ≤ 120 KB together
//   dist/app/index.html            the workspace's page (never cached), naming the hashed files
// The widget app is built first; the loader learns its hashed name through an esbuild `define`.
// Type generation and type checking run before this (npm run build).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const BUDGETS = { 'widget.js': 3 * 1024, app: 30 * 1024, dashboard: 120 * 1024 };
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

// The agent workspace: one JS and one CSS file (imported by the entry), both content-hashed.
const desk = await build({
  ...common,
  entryPoints: ['dashboard/src/main.tsx'],
  outdir: join(dist, 'app'),
  entryNames: 'app.[hash]',
  metafile: true,
});
const deskOut = (ext) => {
  const out = Object.keys(desk.metafile.outputs).find((p) => p.endsWith(ext) && /app\.[^/]+$/.test(p));
  return out ? relative(dist, resolve(web, out)).replace(/\\/g, '/') : null;
};
const deskJs = deskOut('.js');
const deskCss = deskOut('.css');
if (!deskJs) throw new Error('build: no workspace bundle in the metafile');
const icon =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'%3E%3Crect x='4' y='4' width='56' height='56' rx='14' fill='%234f46e5'/%3E%3Ctext x='32' y='44' font-size='40' font-family='sans-serif' font-weight='bold' text-anchor='middle' fill='white'%3En%3C/text%3E%3C/svg%3E";
writeFileSync(
  join(dist, 'app', 'index.html'),
  '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">\n<title>natter</title>\n' +
    `<link rel="icon" href="${icon}">\n` +
    (deskCss ? `<link rel="stylesheet" href="/${deskCss}">\n` : '') +
    `<script defer src="/${deskJs}"></script>\n</head>\n<body>\n<div id="app"></div>\n` +
    '<noscript>The natter workspace needs JavaScript.</noscript>\n</body>\n</html>\n',
);

const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const raw = (file) => readFileSync(join(dist, file)).length;
const sizes = { 'widget.js': gz('widget.js'), [appPath]: gz(appPath) };
writeFileSync(join(dist, 'widget', 'manifest.json'), JSON.stringify({ app: appPath, sizes }, null, 2) + '\n');
const deskFiles = [deskJs, deskCss].filter(Boolean);
for (const f of deskFiles) sizes[f] = gz(f);
writeFileSync(
  join(dist, 'app', 'manifest.json'),
  JSON.stringify({ js: deskJs, css: deskCss, sizes: Object.fromEntries(deskFiles.map((f) => [f, sizes[f]])) }, null, 2) + '\n',
);

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
for (const f of deskFiles) {
  console.log(`     dist/${f.padEnd(28)} ${String(raw(f)).padStart(7)} B raw ${String(sizes[f]).padStart(6)} B gzip`);
}
const deskTotal = deskFiles.reduce((n, f) => n + sizes[f], 0);
const deskOk = deskTotal <= BUDGETS.dashboard;
over ||= !deskOk;
console.log(`${deskOk ? 'ok  ' : 'OVER'} dist/app (js + css)${' '.repeat(15)} ${String(deskTotal).padStart(6)} B gzip  (budget ${BUDGETS.dashboard} B)`);
if (over) {
  console.error('build: a bundle is over its size budget');
  process.exit(1);
}
