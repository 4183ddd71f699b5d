#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm install` through the `prepare` script). In a
// development checkout whose dist/ was never built (`npm install --ignore-scripts`), it runs the
// TypeScript sources through tsx, a devDependency, instead.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('roomgate: dist/ is missing; build it with `npm run build`');
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
