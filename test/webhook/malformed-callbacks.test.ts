/**
 * Signed callbacks with a field repeated, missing or malformed, through real sockets on every
 * engine: each is stored quarantined with its precise reason, alerted, answered 204, and never
 * applied — one reading of every field (freshness, dedupe and the fold once read `Timestamp`
 * three ways: first, last, and a stricter regex that silently dropped `+01:00`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signFormList, signJson } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { listen, recordOf, type Listening } from '../support/webhook-http.js';

type Param = readonly [string, string];

for (const engine of enginesUnderTest()) {
  describe(`malformed and repeated fields on ${engine.name}`, () => {
    let service: TestService;
    let http: Listening;
    let tenantId: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      http = await listen(service);
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => {
      await service?.app.roomgate.drain();
      await service?.close();
    });

    const seed = () => service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician', 'pt-1': 'patient' } });
    const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
    const room = (roomSid: string, roomName: string, event: string, extra: Param[] = []): Param[] => [
      ['AccountSid', service.accountSid],
      ['RoomName', roomName],
      ['RoomSid', roomSid],
      ['RoomStatus', 'in-progress'],
      ['RoomType', 'group'],
      ['StatusCallbackEvent', event],
      ['SequenceNumber', String(Math.floor(Math.random() * 1000))],
      ...extra,
    ];
    const connect = (identity: string, extra: Param[] = []): Param[] => [
      ['ParticipantSid', `PA${randomHex(16)}`],
      ['ParticipantIdentity', identity],
      ['ParticipantStatus', 'connected'],
      ['Timestamp', iso()],
      ...extra,
    ];

    const quarantines = async (reason: string) => {
      await service.app.roomgate.drain();
      const row = await service.store.db
        .selectFrom('security_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('reason', '=', reason)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };

    /** Posts and proves: 204, stored once as quarantined with `reason` (alerted), record unchanged. */
    const expectQuarantined = async (
      consultationId: string,
      roomSid: string,
      request: { body: string; headers: Record<string, string>; url?: string },
      reason: string,
    ) => {
      const before = await recordOf(service, consultationId);
      const countBefore = await quarantines(reason);
      const rowsBefore = await service.store.db.selectFrom('callbacks').select('id').where('status', '=', 'quarantined').execute();
      expect(await http.post(request), reason).toBe(204);
      expect(await quarantines(reason), reason).toBe(countBefore + 1);
      const rows = await service.store.db
        .selectFrom('callbacks')
        .select(['id', 'room_sid', 'dedupe_key'])
        .where('status', '=', 'quarantined')
        .execute();
      const added = rows.filter((row) => !rowsBefore.some((old) => old.id === row.id));
      expect(added, reason).toHaveLength(1);
      // Keyed by its body, never as the event it claims to be.
      expect(added[0]!.dedupe_key).toMatch(/^q[0-9a-f]{63}$/);
      expect([roomSid, null]).toContain(added[0]!.room_sid);
      expect(await recordOf(service, consultationId), reason).toEqual(before);
      expect(service.logs()).toContain(`"reason":"${reason}"`);
    };

    it('quarantines a repeated Timestamp (fresh & 3 h old) instead of storing the old one', async () => {
      const { id, roomSid, roomName } = await seed();
      const params = room(roomSid, roomName, 'room-ended', [
        ['Timestamp', iso()],
        ['Timestamp', iso(-3 * 3_600_000)],
      ]);
      await expectQuarantined(id, roomSid, signFormList(http.webhookUrl, service.authToken, params), 'schema-repeated-field:Timestamp');
      expect(await recordOf(service, id)).toMatchObject({ consultation: { status: 'scheduled', ended_at: null } });
    });

    it('quarantines a Timestamp with an offset (+0100, +01:00), missing or empty', async () => {
      const { id, roomSid, roomName } = await seed();
      const offset = (separator: string) => `${new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)}+01${separator}00`;
      for (const [timestamp, reason] of [
        [offset(''), 'schema-malformed-field:Timestamp'],
        [offset(':'), 'schema-malformed-field:Timestamp'],
        [undefined, 'schema-missing-field:Timestamp'],
        ['', 'schema-empty-field:Timestamp'],
      ] as const) {
        const params = room(roomSid, roomName, 'room-ended', timestamp === undefined ? [] : [['Timestamp', timestamp]]);
        await expectQuarantined(id, roomSid, signFormList(http.webhookUrl, service.authToken, params), reason);
      }
    });

    it('quarantines a repeated or malformed participant field and a SequenceNumber beyond any column, keeps unknown ones', async () => {
      const { id, roomSid, roomName } = await seed();
      const cases: [Param[], string][] = [
        [
          room(roomSid, roomName, 'participant-connected', connect('clin-1', [['ParticipantIdentity', 'pt-1']])),
          'schema-repeated-field:ParticipantIdentity',
        ],
        [
          room(roomSid, roomName, 'participant-connected', connect('clin-1', [['ParticipantSid', `PA${randomHex(16)}`]])),
          'schema-repeated-field:ParticipantSid',
        ],
        [
          room(roomSid, roomName, 'participant-connected', connect('clin-1')).map(([name, value]): Param => [
            name,
            name === 'ParticipantSid' ? 'PA1' : value,
          ]),
          'schema-malformed-field:ParticipantSid',
        ],
        [
          room(roomSid, roomName, 'participant-connected', connect('clin-1')).map(([name, value]): Param => [
            name,
            name === 'SequenceNumber' ? '99999999999' : value,
          ]),
          'schema-malformed-field:SequenceNumber',
        ],
        [
          room(roomSid, roomName, 'participant-connected', connect('clin-1', [['ParticipantIdentityx1', '']])),
          'schema-resplit:ParticipantIdentity',
        ],
        [room(roomSid, roomName, 'participant-joined', connect('clin-1')), 'schema-unknown-event'],
      ];
      for (const [params, reason] of cases)
        await expectQuarantined(id, roomSid, signFormList(http.webhookUrl, service.authToken, params), reason);
      // A sound callback with a parameter Twilio may add later is kept whole and applied.
      const sound = room(roomSid, roomName, 'participant-connected', connect('clin-1', [['MediaRegion', 'de1']]));
      expect(await http.post(signFormList(http.webhookUrl, service.authToken, sound))).toBe(204);
      await service.app.roomgate.drain();
      const row = await service.store.db
        .selectFrom('callbacks')
        .select(['params'])
        .where('room_sid', '=', roomSid)
        .where('status', '=', 'accepted')
        .executeTakeFirstOrThrow();
      expect(JSON.parse(row.params)).toContainEqual(['MediaRegion', 'de1']);
      expect(await recordOf(service, id)).toMatchObject({ consultation: { status: 'waiting' }, sessions: [{ identity: 'clin-1' }] });
    });

    it('quarantines a JSON callback with a non-scalar value, and accepts a sound one', async () => {
      const { id, roomSid, roomName } = await seed();
      const json = (extra: Record<string, unknown>) => ({
        ...Object.fromEntries(room(roomSid, roomName, 'room-created')),
        Timestamp: iso(),
        ...extra,
      });
      await expectQuarantined(
        id,
        roomSid,
        signJson(http.webhookUrl, service.authToken, json({ Timestamp: { at: iso() } })),
        'schema-non-scalar:Timestamp',
      );
      await expectQuarantined(
        id,
        roomSid,
        signJson(http.webhookUrl, service.authToken, json({ RoomSid: [roomSid] })),
        'schema-non-scalar:RoomSid',
      );
      expect(await http.post(signJson(http.webhookUrl, service.authToken, json({ SequenceNumber: 3 })))).toBe(204);
      await service.app.roomgate.drain();
      expect(await recordOf(service, id)).toMatchObject({ consultation: { status: 'waiting' } });
    });
  });
}
