/**
 * docs/lifecycle.md and the API agree on the status history: the test reads the example in the
 * document, plays the consultation it describes through signed callbacks, and compares what
 * GET /v1/consultations/:id answers; the statuses the document's state machine names are the
 * API's status enum; and the raw callbacks are the separate, paged list it names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSULTATION_STATUSES } from '../../src/service/api/schemas/consultation.js';
import { enginesUnderTest } from '../support/engines.js';
import { ROOT } from '../support/roomgate-process.js';
import { signFormList } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { listen, type Listening } from '../support/webhook-http.js';

const LIFECYCLE = readFileSync(join(ROOT, 'docs/lifecycle.md'), 'utf8');
const DOC_START = Date.parse('2026-03-01T10:00:00.000Z');

/** The JSON block after the `status-history-example` marker. */
function documentedHistory(): { status: string; at: string }[] {
  const match = /<!-- status-history-example -->\s*```json\n([\s\S]*?)```/.exec(LIFECYCLE);
  if (!match) throw new Error('docs/lifecycle.md lost its status-history-example block');
  return JSON.parse(match[1]!) as { status: string; at: string }[];
}

describe('docs/lifecycle.md and the API', () => {
  it("name the same statuses: the state machine's table and the API's enum", () => {
    const start = LIFECYCLE.indexOf('| from | event | to |');
    const table = LIFECYCLE.slice(start, LIFECYCLE.indexOf('\n\n', start));
    const rows = [...table.matchAll(/^\| ([^|]+) \| [^|]+ \| ([^|]+) \|$/gm)].slice(2);
    const named = new Set(
      rows
        .flatMap((row) => [...row[1]!.split(','), row[2]!])
        .map((cell) => cell.trim().split(' ')[0]!)
        .filter((word) => word !== 'any' && word !== 'unchanged'),
    );
    expect([...named].sort()).toEqual([...CONSULTATION_STATUSES].sort());
  });
});

for (const engine of enginesUnderTest()) {
  describe(`status history on ${engine.name}`, () => {
    let service: TestService;
    let http: Listening;
    let key: string;
    let tenantId: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      http = await listen(service);
      ({ tenantId, key } = await service.seedTenant('human', ['consultations:read']));
    });
    afterAll(async () => service?.close());

    const get = async (url: string) => {
      const response = await service.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };

    it('is what the document shows for the consultation it describes; the callbacks are a paged list', async () => {
      const roomSid = `RM${randomHex(16)}`;
      const consultation = await service.seedConsultation(tenantId, { roomSid, identities: { 'clin-1': 'clinician', 'pt-1': 'patient' } });
      // The document's 10:00 is eight minutes ago (inside the replay window).
      const shift = Date.now() - 8 * 60_000 - DOC_START;
      const at = (minutes: number) => new Date(DOC_START + shift + minutes * 60_000).toISOString();
      const events: [string, number, Record<string, string>][] = [
        ['room-created', 0, {}],
        ['participant-connected', 1, { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin-1' }],
        ['participant-connected', 2, { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'pt-1' }],
        ['room-ended', 5, {}],
      ];
      for (const [index, [type, minutes, extra]] of events.entries()) {
        const params: [string, string][] = [
          ['AccountSid', service.accountSid],
          ['RoomName', consultation.roomName],
          ['RoomSid', roomSid],
          ['StatusCallbackEvent', type],
          ['Timestamp', at(minutes)],
          ['SequenceNumber', String(index)],
          ...Object.entries(extra),
        ];
        expect(await http.post(signFormList(http.webhookUrl, service.authToken, params))).toBe(204);
        await service.app.roomgate.drain();
      }

      const view = await get(`/v1/consultations/${consultation.id}`);
      expect(view).not.toHaveProperty('timeline');
      const shifted = documentedHistory().map((entry) => ({
        status: entry.status,
        at: entry.at === '(createdAt)' ? view.createdAt : new Date(Date.parse(entry.at) + shift).toISOString(),
      }));
      expect(view.statusHistory).toEqual(shifted);
      expect(view.status).toBe(shifted.at(-1)!.status);

      // The raw callbacks: two pages of two, in Timestamp order, then no cursor.
      const first = await get(`/v1/consultations/${consultation.id}/callbacks?limit=2`);
      expect(first.data.map((entry: { event: string }) => entry.event)).toEqual(['room-created', 'participant-connected']);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await get(`/v1/consultations/${consultation.id}/callbacks?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
      expect(second.data.map((entry: { event: string; identity: string | null }) => [entry.event, entry.identity])).toEqual([
        ['participant-connected', 'pt-1'],
        ['room-ended', null],
      ]);
      expect(
        second.data.every((entry: { status: string; source: string }) => entry.status === 'accepted' && entry.source === 'callback'),
      ).toBe(true);
      expect(second.nextCursor).toBeNull();
    });
  });
}
