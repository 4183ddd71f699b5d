/**
 * A closed-loop HTTP load generator: `connections` keep-alive connections, each sending its
 * next request as soon as the previous answer arrives. Same generator for every server
 * compared in a run, so ratios are fair.
 */
import http from 'node:http';

export interface LoadRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Record<string, number>;
  /** Latencies of requests with the given tag, when requests are tagged (e.g. genuine vs forged). */
  readonly byTag: Record<string, { count: number; p50Ms: number; p99Ms: number; statuses: Record<string, number> }>;
}

export async function runLoad(options: {
  port: number;
  connections: number;
  requests: readonly (LoadRequest & { tag?: string })[];
  /** Requests to send in all (default requests.length); beyond the array it starts again at 0. */
  total?: number;
  /**
   * Open-loop pacing: request i is due at start + i / ratePerSecond, and its latency is counted
   * from when it was due (so a stalled server is not hidden by the generator waiting for it).
   * Default: closed loop, as fast as the answers come.
   */
  ratePerSecond?: number;
  /** Stops sending new requests once aborted (those in flight still finish). */
  signal?: AbortSignal;
  /** A request not answered within this is counted as status 'timeout'. Default 30 s. */
  timeoutMs?: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const tagged = new Map<string, { latencies: number[]; statuses: Record<string, number> }>();
  const total = options.total ?? options.requests.length;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (options.requests.length === 0 && total > 0) throw new Error('runLoad: no requests');
  let next = 0;
  const started = process.hrtime.bigint();

  const worker = async () => {
    while (next < total && !options.signal?.aborted) {
      const index = next++;
      const request = options.requests[index % options.requests.length]!;
      let t0 = process.hrtime.bigint();
      if (options.ratePerSecond) {
        const due = started + BigInt(Math.round((index * 1e9) / options.ratePerSecond));
        const wait = Number(due - t0) / 1e6;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        t0 = due;
      }
      const status = await send(agent, options.port, request, timeoutMs);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (request.tag) {
        const entry = tagged.get(request.tag) ?? { latencies: [], statuses: {} };
        entry.latencies.push(ms);
        entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
        tagged.set(request.tag, entry);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return {
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    statuses,
    byTag: Object.fromEntries(
      [...tagged].map(([tag, entry]) => [
        tag,
        {
          count: entry.latencies.length,
          p50Ms: percentile(entry.latencies, 0.5),
          p99Ms: percentile(entry.latencies, 0.99),
          statuses: entry.statuses,
        },
      ]),
    ),
  };
}

function send(agent: http.Agent, port: number, request: LoadRequest, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: request.path,
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.setTimeout(timeoutMs, () => {
      resolve('timeout');
      req.destroy();
    });
    req.on('error', () => resolve('error'));
    req.end(request.body);
  });
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
