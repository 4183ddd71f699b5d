/**
 * Tests that run compiled JavaScript (`npm start`, bin/roomgate.js) call ensureBuilt() first, so
 * they never run a dist/ older than src/. `tsc -b` itself decides whether anything changed (about
 * a second when nothing did); a lock directory keeps test files running in parallel from building
 * into dist/ at the same time.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LOCK = path.join(ROOT, '.tmp', 'build.lock');
const LOCK_WAIT_MS = 300_000;
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 600_000;

export async function ensureBuilt(): Promise<void> {
  await withLock(() =>
    promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsc'), ['-b', 'tsconfig.build.json'], { cwd: ROOT, timeout: LOCK_WAIT_MS }),
  );
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isStale()) removeLock();
      else if (Date.now() > deadline) throw new Error(`ensureBuilt: ${LOCK} held for over ${LOCK_WAIT_MS} ms`);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    removeLock();
  }
}

function removeLock(): void {
  try {
    rmdirSync(LOCK);
  } catch {
    // another run removed it
  }
}

function isStale(): boolean {
  try {
    return Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}
