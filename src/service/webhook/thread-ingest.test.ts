/**
 * The HTTP thread's side of the record thread's ingest, against a channel this test controls:
 * one message per turn, answers mapped back to the same error classes (so the route answers 503
 * or 500 exactly as in-process), a bound on the wait, and the fallback while no thread runs.
 */
import { describe, expect, it } from 'vitest';
import { BatchFailedError, StoreLockTimeoutError, StoreUnavailableError } from '../../storage/store-errors.js';
import type { IngestResult } from '../consultations/projection-thread-messages.js';
import type { IngestOutcome, SignedCallback } from './callback-ingest.js';
import type { StoreIngest } from './store-ingest.js';
import { createThreadIngest, ingestFailureOf, type IngestChannel } from './thread-ingest.js';

const callback = (n: number): SignedCallback => ({
  params: [['n', String(n)]],
  parsed: { ok: false, reason: 'test', fields: {}, event: undefined, timestamp: undefined },
  bodySha256: String(n),
  secretId: 's',
  idempotencyToken: undefined,
  receivedAt: new Date(0),
  remoteAddress: '127.0.0.1',
});

class TestChannel implements IngestChannel {
  ready = true;
  readonly sent: (readonly SignedCallback[])[] = [];
  answer: (callbacks: readonly SignedCallback[]) => Promise<readonly IngestResult[]> = async (callbacks) =>
    callbacks.map(() => ({ ok: true, outcome: { outcome: 'stored', event: 'room-created' } }));
  send(callbacks: readonly SignedCallback[]) {
    this.sent.push(callbacks);
    return this.answer(callbacks);
  }
}

function fallback(): StoreIngest & { submitted: SignedCallback[] } {
  const submitted: SignedCallback[] = [];
  return {
    submitted,
    async submit(item) {
      submitted.push(item);
      return { outcome: 'duplicate', event: 'room-created' } satisfies IngestOutcome;
    },
    health: () => ({ lastCommitAt: undefined, lastFailureAt: undefined, inFlightSince: undefined }),
    drain: async () => undefined,
    close: async () => undefined,
  };
}

describe('thread ingest', () => {
  it('sends the callbacks of one turn in one message and answers each with its own outcome', async () => {
    const channel = new TestChannel();
    channel.answer = async (callbacks) =>
      callbacks.map((item, index) =>
        index === 1
          ? { ok: true, outcome: { outcome: 'duplicate', event: 'x' } }
          : { ok: true, outcome: { outcome: 'stored', event: item.bodySha256 } },
      );
    const ingest = createThreadIngest({ channel, fallback: fallback(), answerWithinMs: 5000, legacyAccountSid: () => undefined });
    const outcomes = await Promise.all([1, 2, 3].map((n) => ingest.submit(callback(n))));
    expect(channel.sent.map((batch) => batch.length)).toEqual([3]);
    expect(outcomes).toEqual([
      { outcome: 'stored', event: '1' },
      { outcome: 'duplicate', event: 'x' },
      { outcome: 'stored', event: '3' },
    ]);
    expect(ingest.health().lastCommitAt).toBeTypeOf('number');
  });

  it('rebuilds the error each callback failed with in the thread, so the route answers as in-process', async () => {
    const channel = new TestChannel();
    const thrown = [
      new StoreUnavailableError('down'),
      new StoreLockTimeoutError('held'),
      new BatchFailedError(1, { cause: new Error('bad row') }),
    ];
    channel.answer = async () => thrown.map((error) => ({ ok: false, ...ingestFailureOf(error) }));
    const ingest = createThreadIngest({ channel, fallback: fallback(), answerWithinMs: 5000, legacyAccountSid: () => undefined });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => ingest.submit(callback(n))));
    const reasons = settled.map((result) => (result.status === 'rejected' ? (result.reason as Error) : undefined));
    expect(reasons[0]).toBeInstanceOf(StoreUnavailableError);
    expect(reasons[0]).not.toBeInstanceOf(StoreLockTimeoutError);
    expect(reasons[1]).toBeInstanceOf(StoreLockTimeoutError);
    expect(reasons[2]).toBeInstanceOf(BatchFailedError);
    expect(ingest.health().lastFailureAt).toBeTypeOf('number');
  });

  it('bounds the wait: a thread that never answers fails the batch as the store being unavailable (503)', async () => {
    const channel = new TestChannel();
    channel.answer = () => new Promise(() => undefined);
    const ingest = createThreadIngest({ channel, fallback: fallback(), answerWithinMs: 50, legacyAccountSid: () => undefined });
    const pending = ingest.submit(callback(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ingest.health().inFlightSince).toBeTypeOf('number');
    await expect(pending).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(ingest.health().inFlightSince).toBeUndefined();
  });

  it('a thread that ends mid-batch fails the batch as the store being unavailable', async () => {
    const channel = new TestChannel();
    channel.answer = async () => {
      throw new StoreUnavailableError('the record thread ended before answering');
    };
    const ingest = createThreadIngest({ channel, fallback: fallback(), answerWithinMs: 5000, legacyAccountSid: () => undefined });
    await expect(ingest.submit(callback(1))).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('commits on this thread, through the fallback, while no record thread runs', async () => {
    const channel = new TestChannel();
    channel.ready = false;
    const here = fallback();
    const ingest = createThreadIngest({ channel, fallback: here, answerWithinMs: 5000, legacyAccountSid: () => undefined });
    expect(await ingest.submit(callback(7))).toEqual({ outcome: 'duplicate', event: 'room-created' });
    expect(here.submitted.map((item) => item.bodySha256)).toEqual(['7']);
    expect(channel.sent).toEqual([]);
  });

  it('drains what is in flight, then refuses new callbacks once closed', async () => {
    const channel = new TestChannel();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answer = channel.answer;
    channel.answer = async (callbacks) => {
      await gate;
      return answer(callbacks);
    };
    const ingest = createThreadIngest({ channel, fallback: fallback(), answerWithinMs: 5000, legacyAccountSid: () => 'AC1' });
    const pending = ingest.submit(callback(1));
    let closed = false;
    const closing = ingest.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    release();
    await closing;
    await expect(pending).resolves.toEqual({ outcome: 'stored', event: 'room-created' });
    await expect(ingest.submit(callback(2))).rejects.toThrow(/closed/);
  });
});
