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
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const tagged = new Map<string, { latencies: number[]; statuses: Record<string, number> }>();
  let next = 0;
  const started = process.hrtime.bigint();

  const worker = async () => {
    while (next < options.requests.length) {
      const request = options.requests[next++]!;
      const t0 = process.hrtime.bigint();
      const status = await send(agent, options.port, request);
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
        { count: entry.latencies.length, p50Ms: percentile(entry.latencies, 0.5), p99Ms: percentile(entry.latencies, 0.99), statuses: entry.statuses },
      ]),
    ),
  };
}

function send(agent: http.Agent, port: number, request: LoadRequest): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: request.path, headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) }, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.on('error', () => resolve('error'));
    req.end(request.body);
  });
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
