/**
 * Builds the operator console into dist/console/: the page, one minified ES module bundled by
 * esbuild from console/src (no framework, no CDN) and one style sheet. Run by `npm run build`
 * (and so by `prepare` on install). Prints the bytes a first load ships, gzip'd.
 */
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const out = new URL('dist/console/', root);

export async function buildConsole({ quiet = false } = {}) {
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: { app: new URL('console/src/main.ts', root).pathname, 'app-css': new URL('console/src/styles.css', root).pathname },
    outdir: out.pathname,
    entryNames: '[name]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
  });
  // esbuild names a CSS entry after its key: app-css.css → app.css.
  await rename(new URL('app-css.css', out), new URL('app.css', out));
  await copyFile(new URL('console/index.html', root), new URL('index.html', out));
  const sizes = {};
  for (const name of ['index.html', 'app.js', 'app.css']) {
    const content = await readFile(new URL(name, out));
    sizes[name] = { bytes: content.length, gzip: gzipSync(content, { level: 9 }).length };
  }
  if (!quiet) {
    const total = Object.values(sizes).reduce((sum, size) => sum + size.gzip, 0);
    console.log(
      `console: ${Object.entries(sizes)
        .map(([name, size]) => `${name} ${size.bytes} B (${size.gzip} B gzip)`)
        .join(', ')}; first load ${total} B gzip`,
    );
  }
  return sizes;
}

if (import.meta.url === `file://${process.argv[1]}`) await buildConsole();
