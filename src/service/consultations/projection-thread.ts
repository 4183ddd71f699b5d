/**
 * Runs the record path's database work in a worker thread — the webhook's inbox commit, the
 * projection worker and the outbox worker — so the heavy work (statements, the fsync'd commits, folding, JSON of the
 * fold state) is off the thread that verifies callbacks and answers them: both cores work. The
 * thread opens its own store connection (projection-thread-entry.ts). This side keeps the
 * ProjectionWorker's shape — start, markDirty, idle, stop — and is the channel of
 * webhook/thread-ingest.ts (send).
 *
 * A thread that dies (an uncaught error, an out-of-memory end, terminate()) is logged, counted
 * and started again after `restartDelayMs`; the new thread's start-up sweep folds whatever the
 * old one left (the inbox's processed_at is the truth, so a dirty mark lost with it loses
 * nothing). Ids marked while no thread runs are handed to the next one; callbacks in flight when
 * it ends fail as the store being unavailable (503); meanwhile thread-ingest.ts commits on the
 * HTTP thread.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { siblingModule, startModuleWorker } from '../../storage/module-worker.js';
import { StoreUnavailableError } from '../../storage/store-errors.js';
import type { LiveEvent } from '../live/live-events.js';
import type { OutboxAlert } from '../outbox/outbox-handlers.js';
import type { SignedCallback } from '../webhook/callback-ingest.js';
import type { IngestChannel } from '../webhook/thread-ingest.js';
import type { FromProjectionThread, IngestResult, ProjectionThreadData, ToProjectionThread } from './projection-thread-messages.js';

/** What the app needs of a projection, in-process (ProjectionWorker) or in a thread. */
export interface Projection {
  start(): Promise<void>;
  markDirty(consultationIds: Iterable<string>): void;
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface ProjectionThreadOptions {
  readonly data: ProjectionThreadData;
  readonly logger: Logger;
  readonly onLive: (events: readonly LiveEvent[]) => void;
  /** New outbox entries were committed (the HTTP thread runs the outbox: no `data.outbox`). */
  readonly onOutbox: () => void;
  /** Where Twilio sends composition callbacks, for the thread's outbox (it changes once the server listens). */
  readonly statusCallbackUrl: () => string;
  /** The thread's outbox raised an alert / read its queue's gauges. */
  readonly onOutboxAlert: (alert: OutboxAlert) => void;
  readonly onOutboxGauge: (name: 'outboxDepth' | 'outboxOldestAgeSeconds', value: number) => void;
  readonly onProjectionFailure: () => void;
  /** The thread ended without being asked to (it is started again). */
  readonly onRestart: () => void;
  /** Pause before a dead thread is started again. Default 1000 ms. */
  readonly restartDelayMs?: number;
  /** How long stop() waits for the thread to finish its work before ending it. Default 30 s. */
  readonly stopTimeoutMs?: number;
}

export class ProjectionThread implements Projection, IngestChannel {
  #worker: Worker | undefined;
  #ready = false;
  #stopping = false;
  /** Marked while no thread was ready to take them, or since the last flush. */
  #pending = new Set<string>();
  #flushScheduled = false;
  #nextToken = 1;
  readonly #idleWaiters = new Map<number, () => void>();
  /** Callback batches handed to the thread, answered by `ingested`. */
  readonly #ingesting = new Map<number, { resolve: (results: readonly IngestResult[]) => void; reject: (error: Error) => void }>();
  #nextBatch = 1;
  #restartTimer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #logger: Logger;

  constructor(private readonly options: ProjectionThreadOptions) {
    this.#logger = options.logger.child({ thread: 'projection' });
  }

  /** Starts the thread; resolves once its start-up sweep is done. Rejects if it cannot start. */
  start(): Promise<void> {
    this.#stopping = false;
    return this.#spawn();
  }

  markDirty(consultationIds: Iterable<string>): void {
    for (const id of consultationIds) this.#pending.add(id);
    // One message for every id marked in this turn of the event loop (a whole group commit).
    if (this.#flushScheduled || !this.#ready) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  idle(): Promise<void> {
    if (this.#stopping && !this.#worker) return Promise.resolve();
    const token = this.#nextToken++;
    return new Promise((resolve) => {
      this.#idleWaiters.set(token, resolve);
      if (this.#ready) {
        this.#flush();
        this.#post({ type: 'idle', token });
      }
    });
  }

  /**
   * Hands verified callbacks to the thread's group commit (thread-ingest.ts); resolves with one
   * result per callback once their commit returned. Rejects at once while no thread runs, and
   * when the thread ends before answering: the callbacks may or may not be stored, and Twilio's
   * retry of a stored one is a duplicate.
   */
  send(callbacks: readonly SignedCallback[], legacyAccountSid: string | undefined): Promise<readonly IngestResult[]> {
    if (!this.#ready || !this.#worker) return Promise.reject(new StoreUnavailableError('the record thread is not running'));
    const batch = this.#nextBatch++;
    return new Promise((resolve, reject) => {
      this.#ingesting.set(batch, { resolve, reject });
      this.#post({ type: 'ingest', batch, callbacks, legacyAccountSid, statusCallbackUrl: this.options.statusCallbackUrl() });
    });
  }

  /** Runs the thread's outbox soon (entries queued on this thread); dropped while none runs (a new one polls at start). */
  wakeOutbox(): void {
    if (this.#ready) this.#post({ type: 'outbox', statusCallbackUrl: this.options.statusCallbackUrl() });
  }

  /** Hands over what is pending, lets the thread finish it and close its store; ends it past stopTimeoutMs. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const worker = this.#worker;
    if (worker) {
      if (this.#ready) this.#flush();
      this.#post({ type: 'stop' });
      const timer = setTimeout(() => {
        this.#logger.warn('projection thread did not stop in time; ending it (the next start sweeps what is left)');
        void worker.terminate();
      }, this.options.stopTimeoutMs ?? 30_000);
      await this.#exited;
      clearTimeout(timer);
    }
    this.#wakeAllIdle();
  }

  /** Ends the thread at once, as a crash would (fault injection); it is started again. */
  async kill(): Promise<void> {
    await this.#worker?.terminate();
  }

  /** Whether a thread runs and takes callbacks (send). */
  get ready(): boolean {
    return this.#ready && this.#worker !== undefined;
  }

  /** The running thread's id, or undefined while none runs. */
  get threadId(): number | undefined {
    return this.#ready ? this.#worker?.threadId : undefined;
  }

  #spawn(): Promise<void> {
    const worker = startModuleWorker(siblingModule(import.meta.url, 'projection-thread-entry'), {
      workerData: this.options.data,
      // Its log lines come through messages; stdout/stderr are only for what escapes the logger.
      stdout: false,
      stderr: false,
    });
    this.#worker = worker;
    this.#ready = false;
    let markExited!: () => void;
    this.#exited = new Promise((resolve) => (markExited = resolve));
    return new Promise<void>((resolve, reject) => {
      let started = false;
      let failure: unknown;
      worker.on('message', (message: FromProjectionThread) => {
        if (message.type === 'ready') {
          started = true;
          this.#ready = true;
          this.#logger.info({ threadId: worker.threadId }, 'projection thread started');
          this.#flush();
          // Starts the thread's outbox, with the address Twilio's composition callbacks go to.
          if (this.options.data.outbox) this.wakeOutbox();
          // Waiters from before a restart ask the new thread.
          for (const token of this.#idleWaiters.keys()) this.#post({ type: 'idle', token });
          resolve();
          return;
        }
        this.#receive(message);
      });
      worker.on('error', (error) => {
        failure = error;
        this.#logger.error({ err: error }, 'projection thread failed');
      });
      worker.on('exit', (code) => {
        markExited();
        if (this.#worker !== worker) return;
        this.#worker = undefined;
        this.#ready = false;
        this.#failIngesting();
        if (this.#stopping) {
          this.#wakeAllIdle();
          return;
        }
        if (!started) {
          reject(failure instanceof Error ? failure : new Error(`the projection thread exited with code ${code} before it was ready`));
          return;
        }
        this.#logger.error({ exitCode: code }, 'projection thread ended unexpectedly; starting it again');
        this.#scheduleRestart();
      });
    });
  }

  /** Counted, then tried again after restartDelayMs (for ever: the store may be down a while). */
  #scheduleRestart(): void {
    if (this.#stopping) return;
    this.options.onRestart();
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      this.#spawn().catch((error: unknown) => {
        this.#logger.error({ err: error }, 'projection thread could not start again; retrying');
        this.#scheduleRestart();
      });
    }, this.options.restartDelayMs ?? 1000);
    this.#restartTimer.unref();
  }

  #receive(message: Exclude<FromProjectionThread, { type: 'ready' }>): void {
    switch (message.type) {
      case 'idle': {
        const resolve = this.#idleWaiters.get(message.token);
        this.#idleWaiters.delete(message.token);
        resolve?.();
        break;
      }
      case 'ingested': {
        const pending = this.#ingesting.get(message.batch);
        this.#ingesting.delete(message.batch);
        pending?.resolve(message.results);
        break;
      }
      case 'live':
        this.options.onLive(message.events);
        break;
      case 'outbox':
        this.options.onOutbox();
        break;
      case 'alert':
        this.options.onOutboxAlert(message.alert);
        break;
      case 'gauge':
        this.options.onOutboxGauge(message.name, message.value);
        break;
      case 'failure':
        this.options.onProjectionFailure();
        break;
      case 'log':
        relayLogLine(this.options.logger, message.line);
        break;
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.size === 0 || !this.#ready) return;
    const ids = [...this.#pending];
    this.#pending.clear();
    this.#post({ type: 'dirty', ids });
  }

  #post(message: ToProjectionThread): void {
    this.#worker?.postMessage(message);
  }

  #failIngesting(): void {
    const error = new StoreUnavailableError('the record thread ended before answering');
    for (const pending of this.#ingesting.values()) pending.reject(error);
    this.#ingesting.clear();
  }

  #wakeAllIdle(): void {
    for (const resolve of this.#idleWaiters.values()) resolve();
    this.#idleWaiters.clear();
  }
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** A pino line from the thread, logged again by the service's logger (same destination, same redaction). */
function relayLogLine(logger: Logger, line: string): void {
  try {
    const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = JSON.parse(line) as Record<string, unknown>;
    logger[LEVELS[Number(level)] ?? 'info'](fields, typeof msg === 'string' ? msg : '');
  } catch {
    logger.info({ thread: 'projection', line }, 'projection thread wrote an unreadable log line');
  }
}
