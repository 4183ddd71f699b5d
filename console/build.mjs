/**
 * Builds the operator console into dist/console/: the page, one minified ES module bundled by
 * esbuild from console/src (no framework, no CDN) and one style sheet. Run by `npm run build`
 * (and so by `prepare` on install), and by the console's tests. Each file is written under a
 * temporary name and renamed into place, so builds running at once never leave a torn file.
 * Prints the bytes a first load ships, gzip'd.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const out = new URL('dist/console/', root);

async function put(name, content) {
  const temporary = new URL(`.${name}.${randomBytes(6).toString('hex')}.tmp`, out);
  await writeFile(temporary, content);
  await rename(temporary, new URL(name, out));
}

export async function buildConsole({ quiet = false } = {}) {
  await mkdir(out, { recursive: true });
  const result = await build({
    entryPoints: { app: new URL('console/src/main.ts', root).pathname, app_css: new URL('console/src/styles.css', root).pathname },
    outdir: out.pathname,
    entryNames: '[name]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    legalComments: 'none',
    write: false,
    logLevel: quiet ? 'error' : 'warning',
  });
  const files = { 'index.html': await readFile(new URL('console/index.html', root)) };
  for (const file of result.outputFiles) {
    if (file.path.endsWith('/app.js')) files['app.js'] = file.contents;
    if (file.path.endsWith('/app_css.css')) files['app.css'] = file.contents;
  }
  const sizes = {};
  for (const [name, content] of Object.entries(files)) {
    await put(name, content);
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
