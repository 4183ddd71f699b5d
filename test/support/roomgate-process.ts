/**
 * `roomgate …` as a real process, the way a supervisor runs it: one node process (TypeScript
 * through tsx's loader, so the PID is the service itself and gets the signals), in its own
 * process group so a test can prove that nothing of it is left running, from any directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface RoomgateProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Resolves with the output once it matches, rejects after timeoutMs or if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** A signal to the service process itself. */
  signal(signal: NodeJS.Signals): void;
  /** True while any process of its group (the service, or anything it started) is alive. */
  groupAlive(): boolean;
  /**
   * Whether the whole group is gone, waiting up to 3 s: the group outlives its leader only if the
   * service left something behind (tsx's esbuild helper ends once its pipe from the service closes).
   */
  groupGone(): Promise<boolean>;
  /** SIGKILL to the whole group (test clean-up). */
  destroy(): void;
}

/**
 * The environment a test gives the service: PATH and HOME only, a free metrics port, and — unless
 * the test names one — loopback as the trusted proxy (outside sandbox mode the signed URL needs a
 * source; the tests' callbacks come from this machine), then the test's variables.
 */
export function baseEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const signedUrlSource = env.ROOMGATE_PUBLIC_URL || env.ROOMGATE_TRUST_PROXY ? {} : { ROOMGATE_TRUST_PROXY: 'loopback' };
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ROOMGATE_METRICS_PORT: '0', ...signedUrlSource, ...env };
}

export function startRoomgate(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): RoomgateProcess {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: baseEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  let gone = false;
  void exited.then(() => (gone = true));
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(stdout + stderr);
        if (match) return match;
        if (gone) throw new Error(`roomgate ${args.join(' ')} ended before ${pattern}:\n${stdout}${stderr}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    signal: (signal) => {
      if (!gone) child.kill(signal);
    },
    groupAlive,
    async groupGone() {
      const deadline = Date.now() + 3000;
      while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return !groupAlive();
    },
    destroy: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** Runs a command to its end (killed after timeoutMs); its exit code, output and duration. */
export async function runRoomgate(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | string; stdout: string; stderr: string; ms: number; leftRunning: boolean }> {
  const started = Date.now();
  const run = startRoomgate(args, options);
  const timer = setTimeout(() => run.destroy(), options.timeoutMs ?? 60_000);
  const code = await run.exited;
  clearTimeout(timer);
  const leftRunning = !(await run.groupGone());
  run.destroy();
  return { code, stdout: run.stdout(), stderr: run.stderr(), ms: Date.now() - started, leftRunning };
}
