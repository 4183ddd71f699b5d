/**
 * Where a child's CPU time went, from the .cpuprofile that `node --cpu-prof` writes on exit:
 * self time per function and per source area (Roomgate's own folders, each dependency, node
 * internals, GC, idle), as shares of the sampled time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly functions: { name: string; selfMs: number; share: number }[];
  readonly areas: { area: string; selfMs: number; share: number }[];
}

/**
 * One summary per thread: `--cpu-prof` writes a profile for the main thread and one for each
 * worker thread (the record thread), named CPU.<date>.<pid>.<thread id>.<seq>.cpuprofile.
 */
export function summariseProfileDir(dir: string, top = 25): { thread: string; summary: ProfileSummary }[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
    .map((file) => ({
      thread: /\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? file,
      summary: summariseProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile, top),
    }));
}

function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!.replace(/^node:internal.*/, 'node:internal');
  const src = /\/(src|bench)\/(.+)$/.exec(url);
  if (src) {
    const parts = src[2]!.split('/');
    return `${src[1]}/${parts.length > 1 ? parts.slice(0, -1).join('/') : parts[0]}`;
  }
  return url;
}

export function summariseProfile(profile: Profile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame;
    total += micros;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    const file = frame.url ? `${frame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/')}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${file}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + micros);
  }
  const busy = total - idle;
  const rank = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([name, micros]) => ({ name, selfMs: micros / 1000, share: busy > 0 ? micros / busy : 0 }));
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: rank(functions).slice(0, top),
    areas: rank(areas)
      .slice(0, top)
      .map(({ name, selfMs, share }) => ({ area: name, selfMs, share })),
  };
}

export function printProfile(label: string, summary: ProfileSummary): void {
  const busy = summary.totalMs - summary.idleMs;
  console.log(
    `\nCPU profile of ${label}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (${((100 * busy) / summary.totalMs).toFixed(0)} %)`,
  );
  console.log('  self time by area (share of busy time):');
  for (const area of summary.areas.slice(0, 15))
    console.log(`    ${(100 * area.share).toFixed(1).padStart(5)} %  ${(area.selfMs / 1000).toFixed(2).padStart(7)} s  ${area.area}`);
  console.log('  hottest functions (self time):');
  for (const fn of summary.functions) console.log(`    ${(100 * fn.share).toFixed(1).padStart(5)} %  ${fn.name}`);
}
