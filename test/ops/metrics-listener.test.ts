/**
 * `/metrics` is never served on the public port: a running `roomgate serve` answers it on its
 * own listener (ROOMGATE_METRICS_HOST/PORT), and 404 on the public one; `off` turns it off.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRoomgate, type RoomgateProcess } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';

const running: RoomgateProcess[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.destroy();
});

async function serve(env: Record<string, string>) {
  const port = await freePort();
  const service = startRoomgate(['serve'], { cwd: mkdtempSync(join(tmpdir(), 'roomgate-metrics-')), env: { PORT: String(port), ...env } });
  running.push(service);
  await service.waitFor(/Roomgate is listening[\s\S]*metrics: +\S+/);
  return { service, base: `http://127.0.0.1:${port}` };
}

describe('the metrics listener', () => {
  it('serves /metrics on its own port and not on the public one', async () => {
    const metricsPort = await freePort();
    const { service, base } = await serve({ ROOMGATE_METRICS_PORT: String(metricsPort) });
    expect(service.stdout()).toContain(`metrics:  http://127.0.0.1:${metricsPort}/metrics`);
    const publicAnswer = await fetch(`${base}/metrics`);
    expect(publicAnswer.status).toBe(404);
    expect(await publicAnswer.text()).not.toContain('roomgate_');
    await fetch(`${base}/healthz`);
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scraped.text()).toMatch(
      /^roomgate_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} 1$/m,
    );
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/consultations`)).status).toBe(404);
  });

  it('ROOMGATE_METRICS_PORT=off: no listener, and the banner says so', async () => {
    const { service, base } = await serve({ ROOMGATE_METRICS_PORT: 'off' });
    expect(service.stdout()).toContain('metrics:  off (ROOMGATE_METRICS_PORT=off)');
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });
});
