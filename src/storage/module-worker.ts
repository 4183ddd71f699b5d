/**
 * Starts a worker thread from a module next to the caller, compiled or not: the service runs from
 * dist/ (`.js`, plain `new Worker`), tests and benches run the TypeScript sources through tsx or
 * vitest, whose loader hooks do not reach a new thread on Node 20 — there the thread loads its
 * entry through tsx's own API (`tsImport`), which compiles it in that thread.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `./name.js` beside `callerUrl`, or `./name.ts` when the caller itself is a TypeScript source. */
export function siblingModule(callerUrl: string, name: string): URL {
  // tsx may add a query to a module's URL (`?tsx-namespace=…`): the path decides.
  return new URL(`./${name}${new URL(callerUrl).pathname.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

export function startModuleWorker(entry: URL, options: WorkerOptions): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsx, 'dist/esm/api/index.mjs')).href;
  const href = JSON.stringify(entry.href);
  const boot = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${href}, ${href}))`;
  return new Worker(boot, { ...options, eval: true });
}
