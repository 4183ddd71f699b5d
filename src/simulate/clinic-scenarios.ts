/**
 * Consultations as clinics run them (issue 19), played through the tenant API and the sandbox
 * Twilio's control API (its clock moved, participants joined and dropped): the waiting room,
 * tokens before, inside and after the appointment window, a no-show of either side or both, a
 * dropped call rejoined in a new room. Each step's answer is compared with the contract; what
 * the consultation must end as is returned, for `demo` to check once the window's close has been
 * swept (the no-show sweep runs every 30 s in `serve`).
 */
import type { CallbackResult, SimulationTarget } from './simulator.js';

export const CLINIC_SCENARIOS = [
  'lobby',
  'early-late-tokens',
  'no-show-clinician',
  'no-show-care-recipient',
  'no-show-both',
  'drop-and-rejoin',
] as const;
export type ClinicScenario = (typeof CLINIC_SCENARIOS)[number];

/** What a clinic scenario's consultation must end as. */
export interface ClinicOutcome {
  readonly status: 'completed' | 'no-show';
  readonly missing?: 'clinician' | 'care-recipient' | 'both';
  /** Billable seconds of its one billing record (none for a no-show); a few more may pass in real time between steps. */
  readonly billableSeconds?: number;
  /** The rooms it had. */
  readonly rooms: number;
}

type Json = Record<string, unknown>;

export async function playClinicScenario(
  target: SimulationTarget & { sandboxUrl: string },
  scenario: ClinicScenario,
  record: (result: CallbackResult) => void,
): Promise<{ id: string; roomSid: string; outcome: ClinicOutcome }> {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${target.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as Json };
  };
  /** A step whose answer the contract fixes: logged and recorded like a callback. */
  const step = async (label: string, expected: number, run: () => Promise<{ status: number; json: Json }>) => {
    let answered: number | 'no answer' = 'no answer';
    let json: Json = {};
    try {
      ({ status: answered, json } = await run());
    } catch {
      answered = 'no answer';
    }
    record({ scenario, label, expected, answered, attempts: 1 });
    return json;
  };
  const sandbox = async (path: string, form: Record<string, string>) => {
    const response = await fetch(`${target.sandboxUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${target.accountSid}:${target.authToken}`).toString('base64')}`,
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as Json };
  };
  /** Waits until the sandbox delivered its callbacks, and the service had a moment to fold them. */
  const delivered = async () => {
    await sandbox('/_sandbox/Idle', {});
    await new Promise((resolve) => setTimeout(resolve, 300));
  };
  /** Moves the sandbox clock (and the service's, which follows it): what happened before is delivered first, so no callback arrives stale. */
  const advance = async (minutes: number) => {
    await delivered();
    await step(`${minutes} minutes pass`, 200, () => sandbox('/_sandbox/Clock', { AdvanceSeconds: String(minutes * 60) }));
    await delivered();
  };
  const now = async () => {
    const response = await fetch(`${target.sandboxUrl}/_sandbox/Clock`, {
      headers: { authorization: `Basic ${Buffer.from(`${target.accountSid}:${target.authToken}`).toString('base64')}` },
    });
    return Date.parse(String(((await response.json()) as Json).now));
  };
  /** Waits (bounded) until the service has folded what the sandbox reported. */
  const until = async (id: string, wanted: (consultation: Json) => boolean) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { json } = await call('GET', `/v1/consultations/${id}`);
      if (wanted(json) || Date.now() > deadline) return json;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const token = (id: string, identity: string, role: string, expected: number, why = '') =>
    step(`token for ${role}${why ? ` (${why})` : ''}`, expected, () =>
      call('POST', `/v1/consultations/${id}/access-tokens`, { identity, role }),
    );
  const join = (room: string, identity: string) =>
    step(`${identity} joins`, 201, () => sandbox(`/_sandbox/Rooms/${room}/Participants`, { Identity: identity }));
  const leave = (room: string, identity: string) =>
    step(`${identity} drops`, 200, () => sandbox(`/_sandbox/Rooms/${room}/Participants/${identity}/Disconnect`, {}));

  const schedule = async (inMinutes: number, durationMinutes: number, extra: Json = {}) => {
    const scheduledAt = new Date((await now()) + inMinutes * 60_000).toISOString();
    const created = await step(`consultation scheduled in ${inMinutes} min for ${durationMinutes} min`, 201, () =>
      call('POST', '/v1/consultations', { scheduledAt, durationMinutes, record: false, ...extra }),
    );
    return created as { id: string; roomSid: string; roomName: string };
  };
  const suffix = Math.random().toString(36).slice(2, 8);
  const clinician = `clin-${scenario}-${suffix}`;
  const recipient = `care-${scenario}-${suffix}`;

  switch (scenario) {
    case 'lobby': {
      // The care recipient waits in the lobby; no token until the clinician's side admits them.
      const c = await schedule(0, 20, { waitingRoom: true });
      await step('care recipient joins the lobby', 201, () =>
        call('POST', `/v1/consultations/${c.id}/lobby`, { identity: recipient, role: 'patient' }),
      );
      await token(c.id, recipient, 'patient', 409, 'waiting, not admitted');
      await advance(3);
      await step('clinician admits', 200, () => call('POST', `/v1/consultations/${c.id}/lobby/${recipient}/admit`));
      await token(c.id, clinician, 'clinician', 201);
      await token(c.id, recipient, 'patient', 201, 'admitted');
      await join(c.roomSid, clinician);
      await join(c.roomSid, recipient);
      await advance(5);
      await step('clinician ends the consultation', 200, () => call('POST', `/v1/consultations/${c.id}/end`));
      await until(c.id, (consultation) => consultation.status === 'completed');
      return { id: c.id, roomSid: c.roomSid, outcome: { status: 'completed', billableSeconds: 300, rooms: 1 } };
    }
    case 'early-late-tokens': {
      // Joining opens 15 min before the slot (the tenant's setting) and closes 15 min after it.
      const c = await schedule(60, 10);
      await token(c.id, recipient, 'patient', 422, 'an hour early: window not open');
      await advance(50);
      // The room made at creation timed out unused meanwhile: the first token in the window opens another.
      const issued = (await token(c.id, clinician, 'clinician', 201, 'ten minutes early')) as { roomName?: string };
      await token(c.id, recipient, 'patient', 201);
      const room = issued.roomName ?? c.roomName;
      await join(room, clinician);
      await join(room, recipient);
      await advance(10);
      await leave(room, recipient);
      await leave(room, clinician);
      // Twilio's empty-room timeout ends the room inside the window (interrupted: a room may follow)…
      await advance(6);
      await until(c.id, (consultation) => consultation.status === 'interrupted');
      // …until the grace after the slot has passed.
      await advance(20);
      await token(c.id, recipient, 'patient', 422, 'after the grace: window closed');
      return { id: c.id, roomSid: c.roomSid, outcome: { status: 'completed', billableSeconds: 600, rooms: 2 } };
    }
    case 'no-show-clinician':
    case 'no-show-care-recipient':
    case 'no-show-both': {
      const c = await schedule(0, 10);
      const who =
        scenario === 'no-show-clinician' ? [recipient, 'patient'] : scenario === 'no-show-care-recipient' ? [clinician, 'clinician'] : [];
      if (who.length > 0) {
        await token(c.id, who[0]!, who[1]!, 201);
        await join(c.roomSid, who[0]!);
      }
      // The window closes 10 + 15 minutes after the slot's start; the sweep names the no-show.
      await advance(26);
      const missing = scenario === 'no-show-clinician' ? 'clinician' : scenario === 'no-show-care-recipient' ? 'care-recipient' : 'both';
      return { id: c.id, roomSid: c.roomSid, outcome: { status: 'no-show', missing, rooms: 1 } };
    }
    case 'drop-and-rejoin': {
      // Ten minutes together, the call drops, Twilio's empty-room timeout ends the room; the next
      // token opens a new room and the consultation goes on there: one bill, summed.
      const c = await schedule(0, 30);
      await token(c.id, clinician, 'clinician', 201);
      await token(c.id, recipient, 'patient', 201);
      await join(c.roomSid, clinician);
      await join(c.roomSid, recipient);
      await advance(10);
      await leave(c.roomSid, recipient);
      await leave(c.roomSid, clinician);
      await advance(6);
      const interrupted = await until(c.id, (consultation) => consultation.status === 'interrupted');
      record({
        scenario,
        label: `room ended: consultation ${String(interrupted.status)}`,
        expected: 1,
        answered: interrupted.status === 'interrupted' ? 1 : 0,
        attempts: 1,
      });
      const rejoined = (await token(c.id, recipient, 'patient', 201, 'rejoin: a new room')) as { roomName?: string };
      await token(c.id, clinician, 'clinician', 201, 'rejoin');
      const room = rejoined.roomName ?? `${c.roomName}-2`;
      await join(room, clinician);
      await join(room, recipient);
      await advance(5);
      await step('clinician ends the consultation', 200, () => call('POST', `/v1/consultations/${c.id}/end`));
      await until(c.id, (consultation) => consultation.status === 'completed');
      return { id: c.id, roomSid: c.roomSid, outcome: { status: 'completed', billableSeconds: 900, rooms: 2 } };
    }
  }
}
