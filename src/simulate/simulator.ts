/**
 * `roomgate simulate`: plays consultations against a Roomgate as Twilio would — every callback
 * signed with the account's auth token, retried on connection failure or 5xx — and adds what an
 * attacker or a flaky network would: duplicates, delays and reordering, a forged room-ended, a
 * replay past the max age, a participant whose identity was never issued — and, through the
 * sandbox Twilio's fault rules, what Twilio itself does: callbacks it never delivers
 * ('lost-callbacks': the room's participant-disconnected and room-ended are dropped, and only
 * reconciliation against the REST API — which answers 429 once — can finish the record). Each answer is compared with what
 * the contract says it must be.
 */
import { computeTwilioSignature, type FormParam } from '../core/signature/twilio-signature.js';
import { consultationScript, type ScriptedEvent } from './scenario-events.js';
import { CLINIC_SCENARIOS, playClinicScenario, type ClinicOutcome, type ClinicScenario } from './clinic-scenarios.js';

/** Twilio's side (signed callbacks and their faults), then the clinic's (src/simulate/clinic-scenarios.ts: the sandbox needed). */
export const SCENARIOS = [
  'normal',
  'duplicates',
  'reordered',
  'forged',
  'replay',
  'unknown-identity',
  'lost-callbacks',
  ...CLINIC_SCENARIOS,
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface SimulationTarget {
  /** Roomgate's base URL, e.g. http://127.0.0.1:8080 */
  readonly baseUrl: string;
  /** The URL Twilio signs (the public webhook URL); defaults to baseUrl + the webhook path. */
  readonly webhookUrl?: string;
  readonly apiKey: string;
  readonly accountSid: string;
  readonly authToken: string;
  /**
   * The sandbox Twilio Roomgate uses, if any. An observer then joins each room through it, so
   * the emulated room really has recordings and its composition can succeed; observers are
   * never billed.
   */
  readonly sandboxUrl?: string;
}

export interface CallbackResult {
  readonly scenario: ScenarioName;
  readonly label: string;
  readonly expected: number;
  readonly answered: number | 'no answer';
  readonly attempts: number;
}

export interface SimulationReport {
  readonly results: CallbackResult[];
  /** `outcome`: what a clinic scenario's consultation must end as, once its window's close is swept. */
  readonly consultations: { scenario: ScenarioName; id: string; roomSid: string; outcome?: ClinicOutcome }[];
  readonly ok: boolean;
}

const WEBHOOK_PATH = '/webhooks/twilio/video';

export async function simulate(
  target: SimulationTarget,
  options: { scenarios?: readonly ScenarioName[]; log?: (line: string) => void } = {},
): Promise<SimulationReport> {
  const log = options.log ?? (() => undefined);
  const webhookUrl = target.webhookUrl ?? `${target.baseUrl}${WEBHOOK_PATH}`;
  const results: CallbackResult[] = [];
  const consultations: SimulationReport['consultations'] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${target.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };

  /** One callback, retried like Twilio on a connection failure or a 5xx. */
  const deliver = async (scenario: ScenarioName, event: ScriptedEvent, expected: number, token = target.authToken): Promise<void> => {
    const body = new URLSearchParams(event.params as [string, string][]).toString();
    const signature = computeTwilioSignature(token, webhookUrl, event.params);
    let answered: number | 'no answer' = 'no answer';
    let attempts = 0;
    for (; attempts < 4;) {
      attempts += 1;
      try {
        const response = await fetch(`${target.baseUrl}${WEBHOOK_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body,
        });
        await response.arrayBuffer();
        answered = response.status;
        if (response.status < 500) break;
      } catch {
        answered = 'no answer';
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * attempts));
    }
    results.push({ scenario, label: event.label, expected, answered, attempts });
    log(
      `${answered === expected ? 'ok  ' : 'FAIL'} ${scenario.padEnd(16)} ${event.label.padEnd(44)} expected ${expected}, answered ${answered}`,
    );
  };

  const start = async (scenario: ScenarioName) => {
    const created = (await api('POST', '/v1/consultations', { record: true })) as { id: string; roomSid: string; roomName: string };
    const clinician = `clin-${created.id.slice(-6)}`;
    const recipient = `care-${created.id.slice(-6)}`;
    await api('POST', `/v1/consultations/${created.id}/access-tokens`, { identity: clinician, role: 'clinician' });
    await api('POST', `/v1/consultations/${created.id}/access-tokens`, { identity: recipient, role: 'patient' }).catch(() =>
      api('POST', `/v1/consultations/${created.id}/access-tokens`, { identity: recipient, role: 'pet-owner' }),
    );
    consultations.push({ scenario, id: created.id, roomSid: created.roomSid });
    if (target.sandboxUrl) {
      const observer = `obs-${created.id.slice(-6)}`;
      await api('POST', `/v1/consultations/${created.id}/access-tokens`, { identity: observer, role: 'observer' });
      await sandboxControl(target, `/_sandbox/Rooms/${created.roomSid}/Participants`, { Identity: observer });
    }
    const script = consultationScript({
      accountSid: target.accountSid,
      roomSid: created.roomSid,
      roomName: created.roomName,
      clinician,
      recipient,
      end: new Date(),
    });
    return { ...created, script };
  };
  const end = (id: string) => api('POST', `/v1/consultations/${id}/end`);

  for (const scenario of options.scenarios ?? SCENARIOS) {
    const clinic = (CLINIC_SCENARIOS as readonly string[]).includes(scenario);
    if ((scenario === 'lost-callbacks' || clinic) && !target.sandboxUrl) {
      log(`skip ${scenario}: needs the sandbox Twilio (--sandbox URL)`);
      continue;
    }
    if (clinic) {
      const played = await playClinicScenario({ ...target, sandboxUrl: target.sandboxUrl! }, scenario as ClinicScenario, (result) => {
        results.push(result);
        log(
          `${result.answered === result.expected ? 'ok  ' : 'FAIL'} ${scenario.padEnd(22)} ${result.label.padEnd(44)} expected ${result.expected}, answered ${result.answered}`,
        );
      });
      consultations.push({ scenario, ...played });
      continue;
    }
    const consultation = await start(scenario);
    const { script } = consultation;
    switch (scenario) {
      case 'normal':
        for (const event of script) await deliver(scenario, event, 204);
        break;
      case 'duplicates':
        for (const event of script) {
          await deliver(scenario, event, 204);
          await deliver(scenario, { ...event, label: `${event.label} (again)` }, 204);
        }
        await Promise.all(
          Array.from({ length: 5 }, () => deliver(scenario, { ...script[0]!, label: `${script[0]!.label} (5 at once)` }, 204)),
        );
        break;
      case 'reordered':
        await Promise.all(
          [...script].reverse().map(async (event, index) => {
            await new Promise((resolve) => setTimeout(resolve, (index % 3) * 60));
            await deliver(scenario, { ...event, label: `${event.label} (late/out of order)` }, 204);
          }),
        );
        break;
      case 'forged': {
        for (const event of script) await deliver(scenario, event, 204);
        const forged = roomEnded(target.accountSid, consultation, new Date());
        await deliver(scenario, { ...forged, label: 'room-ended signed with a guessed token' }, 403, 'not-the-auth-token');
        break;
      }
      case 'replay': {
        for (const event of script) await deliver(scenario, event, 204);
        const old = script[1]!;
        const replayed = old.params.map(([key, value]): FormParam => [
          key,
          // Past the late window too (24 h by default): within it, a signed callback is held as
          // late (204) and applied only if Twilio's REST API confirms it — which a replay with a
          // moved Timestamp never is.
          key === 'Timestamp' ? new Date(Date.now() - 25 * 3_600_000).toISOString() : value,
        ]);
        await deliver(scenario, { label: `${old.label} replayed after the max age`, params: replayed }, 403);
        break;
      }
      case 'lost-callbacks': {
        // Twilio plays the call; its disconnects and the room's end never reach Roomgate.
        const { roomSid, id } = consultation;
        const control = async (label: string, path: string, form: Record<string, string>) => {
          let answered: number | 'no answer' = 'no answer';
          try {
            answered = await sandboxControl(target, path, form);
          } catch {
            answered = 'no answer';
          }
          const expected = path.endsWith('/Participants') || path.startsWith('/_sandbox/Faults') ? 201 : 200;
          results.push({ scenario, label, expected, answered, attempts: 1 });
          log(
            `${answered === expected ? 'ok  ' : 'FAIL'} ${scenario.padEnd(16)} ${label.padEnd(44)} expected ${expected}, answered ${answered}`,
          );
        };
        await control('Twilio drops disconnects and room-ended', '/_sandbox/Faults/Callbacks', {
          Action: 'drop',
          Room: roomSid,
          Events: 'participant-disconnected,room-ended',
        });
        // And its REST API rate-limits the reconciler's first read of the participants.
        await control('Twilio answers 429 (Retry-After 1) once', '/_sandbox/Faults/Rest', {
          Status: '429',
          Path: `${roomSid}/Participants`,
          Count: '1',
          RetryAfter: '1',
        });
        const clinician = `clin-${id.slice(-6)}`;
        const recipient = `care-${id.slice(-6)}`;
        await control(`participant joins (${clinician})`, `/_sandbox/Rooms/${roomSid}/Participants`, { Identity: clinician });
        await control(`participant joins (${recipient})`, `/_sandbox/Rooms/${roomSid}/Participants`, { Identity: recipient });
        await control('two minutes pass', '/_sandbox/Clock', { AdvanceSeconds: '120' });
        await control(
          `participant leaves (${recipient}), callback lost`,
          `/_sandbox/Rooms/${roomSid}/Participants/${recipient}/Disconnect`,
          {},
        );
        break;
      }
      case 'unknown-identity': {
        for (const event of script) await deliver(scenario, event, 204);
        const intruder = script[3]!.params.map(([key, value]): FormParam => [
          key,
          key === 'ParticipantIdentity' ? 'intruder-42' : key === 'ParticipantSid' ? `PA${'f'.repeat(32)}` : value,
        ]);
        await deliver(scenario, { label: 'participant-connected (identity never issued)', params: intruder }, 204);
        break;
      }
    }
    await end(consultation.id);
  }
  return { results, consultations, ok: results.every((result) => result.answered === result.expected) };
}

/** @returns the sandbox's HTTP status; throws on anything but 2xx. */
async function sandboxControl(target: SimulationTarget, path: string, form: Record<string, string>): Promise<number> {
  const response = await fetch(`${target.sandboxUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${target.accountSid}:${target.authToken}`).toString('base64')}`,
    },
    body: new URLSearchParams(form).toString(),
  });
  if (!response.ok) throw new Error(`sandbox ${path} answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
  return response.status;
}

function roomEnded(accountSid: string, room: { roomSid: string; roomName: string }, at: Date): ScriptedEvent {
  return {
    label: 'room-ended',
    params: [
      ['AccountSid', accountSid],
      ['RoomName', room.roomName],
      ['RoomSid', room.roomSid],
      ['RoomStatus', 'completed'],
      ['RoomType', 'group'],
      ['StatusCallbackEvent', 'room-ended'],
      ['Timestamp', at.toISOString()],
      ['SequenceNumber', '99'],
      ['RoomDuration', '1'],
    ],
  };
}
