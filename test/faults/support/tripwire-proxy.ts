/**
 * A TCP proxy in front of a real database server that strikes at one precise moment of the
 * protocol: when a connection that has sent a statement matching `armedBy` (say the fold's
 * `update callbacks set processed_at`) then sends its COMMIT. What it does then:
 *
 * - `drop-commit`: the COMMIT never reaches the server; both sockets are destroyed (the server
 *   rolls the transaction back, the client sees its connection lost mid-COMMIT);
 * - `drop-answer`: the COMMIT reaches the server (it commits) but its answer is swallowed and
 *   both sockets are destroyed — the client cannot know that it committed;
 * - `hang`: nothing more passes on that connection either way until heal() (a partition that
 *   starts at the COMMIT; the server keeps the transaction open until its session times out).
 *
 * With `at: 'statement'` the armed statement is itself the moment: one that commits alone,
 * outside a transaction (the inbox's INSERT on PostgreSQL/MySQL). `drop-answer` lets it reach
 * the server (it commits) and swallows its answer; `hang` lets it reach the server, then nothing
 * more passes (committed, never answered); `drop-commit` never sends it.
 *
 * `latencyMs` delays every chunk in both directions (a slow, not dead, database). Bytes are
 * read as latin1 to look for statements; PostgreSQL sends the SQL text of each statement in its
 * Parse / Query message, MySQL in COM_QUERY / COM_STMT_PREPARE, so a plain search finds them.
 */
import net from 'node:net';

export type TripAction = 'drop-commit' | 'drop-answer' | 'hang';

export interface Tripwire {
  /** A statement that arms the connection which sends it; its next COMMIT trips the wire. */
  readonly armedBy: RegExp;
  readonly action: TripAction;
  /** How many COMMITs to strike (default 1). */
  readonly times?: number;
  /** Strike at the armed statement's COMMIT (default) or at the statement itself. */
  readonly at?: 'commit' | 'statement';
}

export interface TripwireProxy {
  readonly port: number;
  /** Arms a tripwire (replacing any other); resolves the returned promise when it has struck `times` times. */
  arm(tripwire: Tripwire): Promise<void>;
  disarm(): void;
  /** COMMITs struck so far (since the last arm). */
  readonly struck: number;
  /** Ends `hang`: the hung connections are destroyed (their sessions end at the server too). */
  heal(): void;
  /** Delay of every chunk in both directions, from now on (0: none). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

// PostgreSQL's simple query "commit" (Kysely sends COMMIT without parameters: 'Q', length 11,
// the text, NUL), MySQL's COM_QUERY (command byte 3, the text, at the end of the packet).
const PG_COMMIT = 'Q\u0000\u0000\u0000\u000bcommit\u0000';
const MYSQL_COMMIT = '\u0003commit';
const isCommit = (text: string) => text.includes(PG_COMMIT) || text.endsWith(MYSQL_COMMIT);

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  armed: boolean;
  hung: boolean;
  /** Swallow the next answer from the server and end the pair. */
  swallowAnswer: boolean;
}

export async function startTripwireProxy(target: { host: string; port: number }): Promise<TripwireProxy> {
  const pairs = new Set<Pair>();
  let tripwire: (Tripwire & { done: () => void }) | undefined;
  let struck = 0;
  let latencyMs = 0;

  const end = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream.destroy();
  };
  const later = (work: () => void) => (latencyMs > 0 ? setTimeout(work, latencyMs) : work());

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream, armed: false, hung: false, swallowAnswer: false };
    pairs.add(pair);
    for (const socket of [client, upstream]) {
      // A hung pair's server side stays open when the client gives up (nothing tells the server:
      // its session ends by its own timeouts, or at heal()).
      socket.on('close', () => {
        if (pair.hung && socket === client) return;
        pairs.delete(pair);
        end(pair);
      });
      socket.on('error', () => (pair.hung && socket === client ? undefined : end(pair)));
    }
    client.on('data', (chunk: Buffer) => {
      if (pair.hung) return;
      const text = chunk.toString('latin1');
      const wire = tripwire;
      if (wire && wire.armedBy.test(text)) pair.armed = true;
      const atStatement = wire?.at === 'statement';
      if (wire && pair.armed && (atStatement || isCommit(text))) {
        pair.armed = false;
        struck += 1;
        if (struck >= (wire.times ?? 1)) {
          tripwire = undefined;
          wire.done();
        }
        if (wire.action === 'drop-commit') return end(pair);
        if (wire.action === 'hang') {
          pair.hung = true;
          if (atStatement && !upstream.destroyed) upstream.write(chunk);
          return;
        }
        pair.swallowAnswer = true;
      }
      later(() => {
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.hung) return;
      if (pair.swallowAnswer) return end(pair);
      later(() => {
        if (!client.destroyed) client.write(chunk);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    arm(next) {
      struck = 0;
      for (const pair of pairs) pair.armed = false;
      return new Promise<void>((resolve) => (tripwire = { ...next, done: resolve }));
    },
    disarm() {
      tripwire = undefined;
    },
    get struck() {
      return struck;
    },
    heal() {
      for (const pair of pairs) {
        if (!pair.hung) continue;
        pairs.delete(pair);
        end(pair);
      }
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    close() {
      tripwire = undefined;
      for (const pair of pairs) end(pair);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
