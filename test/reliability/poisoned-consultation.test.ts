/**
 * One consultation that cannot be folded (a constraint its data breaks — injected here as a
 * database trigger that refuses any update of its row) must not hold back the consultations
 * folded in the same batch: they are folded, the offender is logged, counted and left to the
 * sweep, and `drain()` returns. Once the fault is gone, the sweep folds it.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';

// PostgreSQL and SQLite: a trigger is the fault injector (MariaDB's needs a DELIMITER dance).
for (const engine of enginesUnderTest().filter((candidate) => candidate.name !== 'mysql')) {
  describe(`a consultation that cannot be folded, on ${engine.name}`, () => {
    let service: TestService | undefined;
    afterEach(async () => {
      await service?.close();
      service = undefined;
    });

    it('does not stop the others of its batch; the sweep folds it once it can be', async () => {
      service = await startTestService(engine);
      const s = service;
      const { tenantId } = await s.seedTenant();
      const rooms = await Promise.all(Array.from({ length: 6 }, () => s.seedConsultation(tenantId, { record: false })));
      const poisoned = rooms[2]!;
      if (engine.name === 'sqlite') {
        await sql
          .raw(
            `create trigger poison before update on consultations when old.id = '${poisoned.id}' begin select raise(abort, 'poisoned'); end`,
          )
          .execute(s.store.db);
      } else {
        await sql
          .raw(
            `create function poison() returns trigger language plpgsql as $$ begin raise exception 'poisoned'; end $$;` +
              `create trigger poison before update on consultations for each row when (old.id = '${poisoned.id}') execute function poison()`,
          )
          .execute(s.store.db);
      }

      const created = (roomSid: string) => ({
        AccountSid: s.accountSid,
        RoomSid: roomSid,
        RoomName: 'r',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'room-created',
        Timestamp: new Date(Date.now() - 60_000).toISOString(),
        SequenceNumber: '0',
      });
      const answers = await Promise.all(
        rooms.map(({ roomSid }) => {
          const signed = signForm(`http://localhost:80${PATH}`, s.authToken, created(roomSid));
          return s.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body }).then((r) => r.statusCode);
        }),
      );
      expect(answers).toEqual(rooms.map(() => 204));
      await s.app.roomgate.drain(); // returns: the offender does not keep the worker busy

      const status = async (id: string) =>
        (await s.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
      for (const room of rooms) expect(await status(room.id)).toBe(room === poisoned ? 'scheduled' : 'waiting');
      expect(await s.metricsText()).toMatch(/^roomgate_projection_failures_total [1-9]/m);

      await sql.raw('drop trigger poison' + (engine.name === 'sqlite' ? '' : ' on consultations')).execute(s.store.db);
      // The sweep (every 10 s) finds its callback still unfolded.
      const deadline = Date.now() + 30_000;
      while ((await status(poisoned.id)) !== 'waiting' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(await status(poisoned.id)).toBe('waiting');
    }, 60_000);
  });
}
