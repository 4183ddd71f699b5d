/* eslint-disable @typescript-eslint/no-explicit-any -- tests read JSON answers whose shape is what they assert */
/**
 * The sandbox Twilio and a Roomgate app on one engine, sharing one clock that the test moves:
 * the service follows the sandbox's time (as it does in sandbox mode), so callbacks the sandbox
 * holds back arrive as late as the clock has moved since. The app listens on a real port, so the
 * sandbox delivers signed callbacks over HTTP.
 */
import type { AddressInfo } from 'node:net';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import type { EngineUnderTest } from './engines.js';
import { startTestService, type TestService, sandboxTwilioEnv } from './test-service.js';

export interface SandboxHarness {
  readonly sandbox: Sandbox;
  readonly service: TestService;
  readonly base: string;
  /** The shared clock, ms since the epoch (whole seconds, as Twilio's REST dates). */
  now(): number;
  advance(ms: number): void;
  /** A tenant with a key that can do what the tests do. */
  api(key: string): (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, any> }>;
  /** Every callback delivered and folded, every outbox entry done. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSandboxHarness(
  engine: EngineUnderTest,
  options: { random?: () => number; env?: Record<string, string> } = {},
): Promise<SandboxHarness> {
  const credentials = createSandboxCredentials();
  let now = Math.floor(Date.now() / 1000) * 1000;
  const clock = () => new Date(now);
  const sandbox = await startSandbox({
    ...credentials,
    clock,
    compositionStepMs: 5,
    callbackRetryDelayMs: 50,
    ...(options.random ? { random: options.random } : {}),
  });
  const service = await startTestService(engine, {
    env: {
      ...sandboxTwilioEnv(credentials, sandbox.url),
      ROOMGATE_RECONCILE_RATE: '1000',
      ...options.env,
    },
    // The outbox runs only inside settle() (runOnce), so settling knows when it is done.
    app: { outboxWorker: false, clock },
  });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  return {
    sandbox,
    service,
    base,
    now: () => now,
    advance(ms) {
      now += ms;
    },
    api: (key) => async (method, path, body) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, any> };
    },
    async settle() {
      // Bounded: rounds of sandbox idle → service drain → outbox, until nothing moves. A
      // consultation whose row another transaction held is folded ~500 ms later (row-locks.ts):
      // callbacks not yet folded keep the loop going.
      for (let round = 0; round < 60; round++) {
        await sandbox.idle();
        await service.app.roomgate.drain();
        while ((await service.app.roomgate.outbox.runOnce()) > 0);
        await sandbox.idle();
        await service.app.roomgate.drain();
        const pending = await service.store.db
          .selectFrom('outbox')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', new Date(now).toISOString())
          .executeTakeFirstOrThrow();
        const unfolded = await service.store.db
          .selectFrom('callbacks')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'accepted')
          .where('processed_at', 'is', null)
          .executeTakeFirstOrThrow();
        if (Number(pending.n) === 0 && Number(unfolded.n) === 0 && !sandbox.state.busy) return;
        if (Number(unfolded.n) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const stuck = await service.store.db
        .selectFrom('outbox')
        .select(['dedupe_key', 'attempts', 'last_error', 'next_attempt_at'])
        .where('status', '=', 'pending')
        .execute();
      throw new Error(`the sandbox and the service did not settle in 60 rounds: ${JSON.stringify(stuck.slice(0, 3))}`);
    },
    async close() {
      await sandbox.close();
      await service.close();
    },
  };
}
