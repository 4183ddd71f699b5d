/**
 * One bad callback never harms another, on every engine, through real sockets: batches of
 * genuine callbacks mixed with hostile ones — random bytes in every field, huge values, repeated
 * fields, bad timestamps, over-long unsigned headers, non-scalar JSON — all validly signed and
 * sent at once, so they share group commits. Every genuine callback gets 204 and is stored and
 * applied; no hostile one gets a 5xx, nor holds back its consultation's projection. (Today's main
 * lost whole batches: a repeated Timestamp whose last value does not parse threw in the middle of
 * the commit; on PostgreSQL and MariaDB an idempotency token or identity longer than its column
 * failed the INSERT, and a recording's Type longer than recordings.kind failed every later fold.)
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signFormList, signJson, type SignedCallbackRequest } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { listen, type Listening } from '../support/webhook-http.js';

type Param = readonly [string, string];

interface Room {
  readonly roomSid: string;
  readonly roomName: string;
}

/** Text an attacker might put anywhere: any code point, control characters, NUL, long runs. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\n', '%', '&', '=', '+', '\uFFFF', '😀', 'é'), maxLength: 300 }),
  fc.nat({ max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom('', ' ', '-1', '99999999999999999999', '1e309', 'NaN', '2026-02-30T10:00:00Z', 'null', '[]', '{}'),
);

const badTimestamp = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '2026-03-01T11:00:00+0100',
      '2026-03-01T11:00:00+01:00',
      'not a date',
      '2026-13-45T99:99:99Z',
      '+275760-09-13T00:00:00.000Z',
      '2026-02-30T10:00:00Z',
      '1',
    ),
    weight: 3,
  },
  { arbitrary: hostileText, weight: 1 },
);

/** A header value fetch can send: printable ASCII, up to 8 KiB (the server's header limit is 16 KiB). */
const longHeader = fc
  .nat({ max: 8000 })
  .chain((length) => fc.string({ unit: fc.constantFrom(...'abcXYZ019-_=/+.~ '.split('')), minLength: length, maxLength: length }));

for (const engine of enginesUnderTest()) {
  describe(`one bad callback never harms another, on ${engine.name}`, () => {
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

    const base = (room: Room, event: string): Param[] => [
      ['AccountSid', service.accountSid],
      ['RoomName', room.roomName],
      ['RoomSid', room.roomSid],
      ['RoomStatus', 'in-progress'],
      ['RoomType', 'group'],
      ['StatusCallbackEvent', event],
      ['Timestamp', new Date().toISOString()],
      ['SequenceNumber', String(Math.floor(Math.random() * 1e6))],
    ];
    const connected = (room: Room, identity: string, participantSid: string): Param[] => [
      ...base(room, 'participant-connected'),
      ['ParticipantSid', participantSid],
      ['ParticipantIdentity', identity],
      ['ParticipantStatus', 'connected'],
    ];

    /** Hostile callbacks, each validly signed (the worst case: nothing stops them before the parse). */
    const hostile = (room: Room): fc.Arbitrary<{ request: SignedCallbackRequest & { url?: string } }> => {
      const sign = (params: Param[]) => signFormList(http.webhookUrl, service.authToken, params);
      const genuineLike = fc.constantFrom(...[0, 1]).map(() => connected(room, 'clin-1', `PA${randomHex(16)}`));
      return fc.oneof(
        // Random bytes in every field, random extra fields.
        fc
          .tuple(genuineLike, fc.array(fc.tuple(fc.nat(), hostileText)), fc.array(fc.tuple(hostileText, hostileText), { maxLength: 4 }))
          .map(([params, changes, extra]) => {
            const changed = params.map((param) => [...param] as [string, string]);
            for (const [index, value] of changes)
              if (changed[index % changed.length]![0] !== 'AccountSid') changed[index % changed.length]![1] = value;
            return { request: sign([...changed, ...extra]) };
          }),
        // Repeated fields, the last one malformed (what threw in the middle of today's commit).
        fc
          .tuple(
            genuineLike,
            fc.constantFrom('Timestamp', 'SequenceNumber', 'ParticipantIdentity', 'RoomSid', 'StatusCallbackEvent'),
            badTimestamp,
          )
          .map(([params, name, value]) => ({
            request: sign([...params, [name, value]]),
          })),
        // A bad Timestamp alone.
        fc.tuple(genuineLike, badTimestamp).map(([params, value]) => ({
          request: sign(params.map(([name, old]): Param => [name, name === 'Timestamp' ? value : old])),
        })),
        // Values longer than any column: identity, track name, media link, SequenceNumber.
        fc
          .tuple(genuineLike, fc.constantFrom('ParticipantIdentity', 'RoomName', 'SequenceNumber'), fc.integer({ min: 129, max: 40_000 }))
          .map(([params, name, length]) => ({
            request: sign(
              params.map(([key, old]): Param => [key, key === name ? (name === 'SequenceNumber' ? '9' : 'a').repeat(length) : old]),
            ),
          })),
        // An over-long or odd unsigned header on an otherwise genuine-looking callback.
        fc.tuple(genuineLike, longHeader).map(([params, token]) => {
          const signed = sign(params);
          return { request: { ...signed, headers: { ...signed.headers, 'i-twilio-idempotency-token': token } } };
        }),
        // A recording of a known participant whose optional values are hostile: the fold writes
        // them to bounded columns (a Type over recordings.kind's 16 characters, or holding a NUL,
        // once failed every later projection of its consultation on PostgreSQL and MariaDB).
        fc
          .tuple(
            genuineLike,
            fc.constantFrom('recording-started', 'recording-completed', 'recording-failed'),
            fc.constantFrom('Type', 'TrackName', 'MediaUri', 'Codec', 'Container', 'FailedOperation', 'SourceSid'),
            fc.oneof(hostileText, fc.constantFrom('x'.repeat(17), 'a\u0000b', 'audio\u0000')),
          )
          .map(([params, event, name, value]) => ({
            request: sign([
              ...params
                .filter(([key]) => key !== 'ParticipantStatus')
                .map(([key, old]): Param => [key, key === 'StatusCallbackEvent' ? event : old]),
              ['RecordingSid', `RT${randomHex(16)}`],
              [name, value],
            ]),
          })),
        // JSON with non-scalar values or the wrong shape.
        fc
          .tuple(genuineLike, fc.oneof(fc.jsonValue(), fc.constant({ nested: { deep: [1, 2, 3] } })), fc.boolean())
          .map(([params, value, inside]) => ({
            request: signJson(http.webhookUrl, service.authToken, inside ? { ...Object.fromEntries(params), Timestamp: value } : value),
          })),
      );
    };

    it('stores and answers 204 every genuine callback of a batch, whatever the others hold (fast-check)', async () => {
      const rooms = await Promise.all(
        Array.from({ length: 4 }, () => service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician', 'pt-1': 'patient' } })),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat({ max: rooms.length - 1 }), { minLength: 10, maxLength: 40 }),
          fc.array(
            fc.nat({ max: rooms.length - 1 }).chain((room) => hostile(rooms[room]!)),
            { minLength: 5, maxLength: 30 },
          ),
          fc.array(fc.nat(), { maxLength: 70 }),
          async (genuineRooms, hostiles, shuffle) => {
            const genuine = genuineRooms.map((index) => {
              const participantSid = `PA${randomHex(16)}`;
              return {
                participantSid,
                request: signFormList(
                  http.webhookUrl,
                  service.authToken,
                  connected(rooms[index]!, index % 2 ? 'pt-1' : 'clin-1', participantSid),
                ),
              };
            });
            const all = [
              ...genuine.map((entry) => ({ kind: 'genuine' as const, entry })),
              ...hostiles.map((entry) => ({ kind: 'hostile' as const, entry })),
            ];
            // A deterministic shuffle, so genuine and hostile are interleaved in every batch.
            shuffle.forEach((n, i) => {
              const j = n % all.length;
              [all[i % all.length], all[j]] = [all[j]!, all[i % all.length]!];
            });
            // All at once: they arrive together and share group commits.
            const statuses = await Promise.all(all.map((item) => http.post(item.entry.request)));
            all.forEach((item, index) => {
              if (item.kind === 'genuine') expect(statuses[index], 'genuine').toBe(204);
              // Stored (quarantined or not), refused, or too large to read — never a 5xx.
              else expect([204, 403, 413], `hostile ${item.entry.request.body.slice(0, 200)}`).toContain(statuses[index]);
            });
            const rows = await service.store.db
              .selectFrom('callbacks')
              .select(['participant_sid', 'status'])
              .where(
                'participant_sid',
                'in',
                genuine.map((entry) => entry.participantSid),
              )
              .execute();
            expect(
              rows
                .filter((row) => row.status === 'accepted')
                .map((row) => row.participant_sid)
                .sort(),
            ).toEqual(genuine.map((entry) => entry.participantSid).sort());
          },
        ),
        { numRuns: engine.name === 'sqlite' ? 10 : 6, seed: Number(process.env.FUZZ_SEED ?? 20260713), endOnFailure: true },
      );
      // And they were applied: every genuine participant has a session.
      await service.app.roomgate.drain();
      const sessions = await service.store.db
        .selectFrom('participant_sessions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where(
          'consultation_id',
          'in',
          rooms.map((room) => room.id),
        )
        .executeTakeFirstOrThrow();
      const accepted = await service.store.db
        .selectFrom('callbacks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'accepted')
        .where('event_type', '=', 'participant-connected')
        .executeTakeFirstOrThrow();
      expect(Number(sessions.n)).toBe(Number(accepted.n));
    });

    it('never lets a recording value longer than its column, or holding a NUL, hold back its consultation', async () => {
      const room = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
      const first = `PA${randomHex(16)}`;
      const later = `PA${randomHex(16)}`;
      const send = (params: Param[]) => http.post(signFormList(http.webhookUrl, service.authToken, params));
      expect(await send(connected(room, 'clin-1', first))).toBe(204);
      await service.app.roomgate.drain();
      const recording = (event: string, name: string, value: string): Param[] => [
        ...base(room, event),
        ['RecordingSid', `RT${randomHex(16)}`],
        ['ParticipantSid', first],
        ['ParticipantIdentity', 'clin-1'],
        ['TrackName', 'audio-1'],
        [name, value],
      ];
      // recordings.kind is varchar(16): these once failed every later fold of the consultation.
      expect(await send(recording('recording-started', 'Type', 'x'.repeat(17)))).toBe(204);
      expect(await send(recording('recording-completed', 'Type', 'a\u0000b'))).toBe(204);
      expect(await send(recording('recording-started', 'Type', 'audio'))).toBe(204);
      expect(await send(connected(room, 'clin-1', later))).toBe(204);
      await service.app.roomgate.drain();
      const sessions = await service.store.db
        .selectFrom('participant_sessions')
        .select('participant_sid')
        .where('participant_sid', 'in', [first, later])
        .execute();
      expect(sessions.map((session) => session.participant_sid).sort()).toEqual([first, later].sort());
      const recordings = await service.store.db
        .selectFrom('recordings')
        .innerJoin('consultations', 'consultations.id', 'recordings.consultation_id')
        .select('recordings.kind')
        .where('consultations.room_sid', '=', room.roomSid)
        .execute();
      expect(recordings).toEqual([{ kind: 'audio' }]);
      const quarantined = await service.store.db
        .selectFrom('callbacks')
        .select('event_type')
        .where('room_sid', '=', room.roomSid)
        .where('status', '=', 'quarantined')
        .execute();
      expect(quarantined.map((row) => row.event_type).sort()).toEqual(['recording-completed', 'recording-started']);
    });

    it('records the security event of every refused callback, whatever one of them claimed', async () => {
      const room = await service.seedConsultation(tenantId);
      const claims = [`AC${'f'.repeat(4000)}`, `AC\u0000${randomHex(15)}`, service.accountSid];
      const before = await service.store.db.selectFrom('security_events').select('id').execute();
      // Each signed with a token nobody configured: refused, and recorded with what it claimed.
      const statuses = await Promise.all(
        claims.map((claim) =>
          http.post(signFormList(http.webhookUrl, randomHex(16), [...base(room, 'room-ended').slice(1), ['AccountSid', claim]])),
        ),
      );
      expect(statuses).toEqual([403, 403, 403]);
      await service.app.roomgate.drain();
      const events = (
        await service.store.db.selectFrom('security_events').select(['id', 'reason', 'claimed_account_sid']).execute()
      ).filter((event) => !before.some((row) => row.id === event.id));
      expect(events.map((event) => event.reason).sort()).toEqual(['signature-mismatch', 'unknown-account', 'unknown-account']);
      for (const event of events) expect(event.claimed_account_sid!.length).toBeLessThanOrEqual(64);
      expect(events.map((event) => event.claimed_account_sid)).toContain(service.accountSid);
    });

    it('keeps an over-long idempotency token comparable, and never stores a value longer than its column', async () => {
      const room = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
      const participantSid = `PA${randomHex(16)}`;
      const signed = signFormList(http.webhookUrl, service.authToken, connected(room, 'clin-1', participantSid));
      const token = 'T'.repeat(5000);
      expect(await http.post({ ...signed, headers: { ...signed.headers, 'i-twilio-idempotency-token': token } })).toBe(204);
      const row = await service.store.db
        .selectFrom('callbacks')
        .select(['idempotency_token', 'status'])
        .where('participant_sid', '=', participantSid)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ status: 'accepted', idempotency_token: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      const identity = `pt-${'a'.repeat(300)}`;
      const long = signFormList(http.webhookUrl, service.authToken, connected(room, identity, `PA${randomHex(16)}`));
      expect(await http.post(long)).toBe(204);
      const quarantined = await service.store.db
        .selectFrom('callbacks')
        .select(['participant_identity', 'status', 'params'])
        .where('room_sid', '=', room.roomSid)
        .where('status', '=', 'quarantined')
        .executeTakeFirstOrThrow();
      // Kept whole in its params, out of the bounded column.
      expect(quarantined.participant_identity).toBeNull();
      expect(quarantined.params).toContain(identity);
    });
  });
}
