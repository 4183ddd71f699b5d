/**
 * Start-up time to ready and idle RSS of `roomgate serve`, compiled vs through tsx.
 *
 *   npm run build && npx tsx bench/startup.bench.ts [--runs 10] [--idle-ms 3000]
 *
 *   compiled  node dist/cli/main.js serve              (what `npm start` runs)
 *   tsx       node --import tsx src/cli/main.ts serve  (what it ran before the build)
 *
 * Each run: a fresh SQLite database (so migrations run, as on a first start) in a fresh working
 * directory, zero configuration (sandbox mode, as the quick start); the two modes alternate so
 * drifting load on the machine hits both alike. "Ready" is the first 200 from /healthz, polled
 * every 10 ms, timed from spawn(). Idle RSS is the child's VmRSS (/proc) after `--idle-ms` of
 * no traffic. Prints each mode's median, min and max, and the ratios.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchArgs, fmt } from './support/bench-args.js';
import { freePort, REPO_ROOT, sleep } from './support/child-server.js';

const args = benchArgs(process.argv.slice(2), { runs: 10, 'idle-ms': 3000 }, 'tsx bench/startup.bench.ts [--runs N] [--idle-ms MS]');
const compiledMain = path.join(REPO_ROOT, 'dist/cli/main.js');
if (!existsSync(compiledMain)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

const MODES = {
  compiled: [compiledMain, 'serve'],
  tsx: ['--import', import.meta.resolve('tsx'), path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve'],
} as const;
type Mode = keyof typeof MODES;

interface Sample {
  readyMs: number;
  rssMiB: number;
}

async function once(mode: Mode): Promise<Sample> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'roomgate-startup-'));
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, MODES[mode], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: cwd,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROOMGATE_METRICS_PORT: 'off',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${mode} exited before it was ready:\n${stderr}`);
      if (performance.now() - started > 60_000) throw new Error(`${mode} not ready after 60 s:\n${stderr}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
      } catch {
        // not listening yet
      }
      await sleep(10);
    }
    const readyMs = performance.now() - started;
    await sleep(args['idle-ms']);
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
    return { readyMs, rssMiB: rssKiB / 1024 };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    rmSync(cwd, { recursive: true, force: true });
  }
}

const samples: Record<Mode, Sample[]> = { compiled: [], tsx: [] };
console.log(`roomgate serve, ${args.runs} starts per mode, alternating; node ${process.version}`);
for (let run = 0; run < args.runs; run += 1) {
  for (const mode of run % 2 === 0 ? (['compiled', 'tsx'] as const) : (['tsx', 'compiled'] as const)) {
    const sample = await once(mode);
    samples[mode].push(sample);
    console.log(`  run ${run + 1} ${mode.padEnd(8)} ready ${fmt(sample.readyMs)} ms, idle RSS ${fmt(sample.rssMiB, 1)} MiB`);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const summary = (mode: Mode) => {
  const ready = samples[mode].map((sample) => sample.readyMs);
  const rss = samples[mode].map((sample) => sample.rssMiB);
  return {
    ready: median(ready),
    readyMin: Math.min(...ready),
    readyMax: Math.max(...ready),
    rss: median(rss),
    rssMin: Math.min(...rss),
    rssMax: Math.max(...rss),
  };
};
const compiled = summary('compiled');
const tsx = summary('tsx');
console.log('');
console.log('| mode | ready, median (min–max) | idle RSS, median (min–max) |');
console.log('|---|---:|---:|');
for (const [name, s] of [
  ['compiled (`npm start`)', compiled],
  ['tsx', tsx],
] as const) {
  console.log(
    `| ${name} | ${fmt(s.ready)} ms (${fmt(s.readyMin)}–${fmt(s.readyMax)}) | ${fmt(s.rss, 1)} MiB (${fmt(s.rssMin, 1)}–${fmt(s.rssMax, 1)}) |`,
  );
}
console.log('');
console.log(`compiled / tsx: ready ${fmt(compiled.ready / tsx.ready, 2)}×, idle RSS ${fmt(compiled.rss / tsx.rss, 2)}×`);
