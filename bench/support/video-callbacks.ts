/**
 * Realistic Twilio Video status callbacks for the benchmarks: consultations (a clinician and a
 * patient, recorded) whose rooms overlap in time, each producing the 18 callbacks Twilio sends
 * for such a room — room-created, participant-connected ×2, track-added ×4, recording-started ×4,
 * participant-disconnected ×2, recording-completed ×4, room-ended — with Twilio's parameter
 * names. Callbacks are delivered in Timestamp order across rooms (≈ ROOMS_IN_FLIGHT rooms live
 * at once), every one distinct, signed by the official `twilio` package for the URL given.
 */
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { checkIdentity } from '../../src/core/identity/identity-policy.js';
import type { LoadRequest } from './load-generator.js';
import { freePort } from './child-server.js';

export const WEBHOOK_PATH = '/webhooks/twilio/video';
export const CALLBACKS_PER_ROOM = 18;
/** Twilio-time spacing of room starts and length of a consultation: ≈ 45 rooms live at once. */
const ROOM_SPACING_MS = 700;
const CONSULTATION_MS = 30_000;

export interface BenchAccount {
  readonly accountSid: string;
  readonly authToken: string;
}

export interface BenchRoom {
  readonly consultationId: string;
  readonly roomSid: string;
  readonly roomName: string;
  readonly clinician: string;
  readonly patient: string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export function benchAccount(): BenchAccount {
  return { accountSid: `AC${hex(16)}`, authToken: hex(16) };
}

/** `count` rooms with fresh SIDs and pseudonymous identities that pass the identity policy. */
export function benchRooms(count: number, prefix = 'b'): BenchRoom[] {
  return Array.from({ length: count }, (_, index) => {
    const consultationId = `con_${prefix}${index.toString(36)}_${hex(6)}`;
    const room = {
      consultationId,
      roomSid: `RM${hex(16)}`,
      roomName: `rg-${consultationId}`,
      clinician: `cl_${hex(6)}`,
      patient: `pt_${hex(6)}`,
    };
    if (!checkIdentity(room.clinician).ok || !checkIdentity(room.patient).ok) throw new Error('bench identity refused by policy');
    return room;
  });
}

interface Timed {
  readonly at: number;
  readonly params: Record<string, string>;
}

/** The 18 callbacks of one room, Twilio time starting at `start` (ms since the epoch). */
function roomCallbacks(account: BenchAccount, room: BenchRoom, start: number): Timed[] {
  const common = { AccountSid: account.accountSid, RoomName: room.roomName, RoomSid: room.roomSid, RoomType: 'group' };
  const people = [
    { identity: room.clinician, sid: `PA${hex(16)}`, joins: 1_000 },
    { identity: room.patient, sid: `PA${hex(16)}`, joins: 4_000 },
  ];
  const leaves = CONSULTATION_MS - 3_000;
  const out: Timed[] = [];
  const add = (offset: number, event: string, extra: Record<string, string>, status = 'in-progress') =>
    out.push({ at: start + offset, params: { ...common, RoomStatus: status, StatusCallbackEvent: event, ...extra } });
  add(0, 'room-created', {});
  const recordings: { sid: string; track: string; person: (typeof people)[number] }[] = [];
  for (const person of people) {
    const who = { ParticipantSid: person.sid, ParticipantIdentity: person.identity };
    add(person.joins, 'participant-connected', { ...who, ParticipantStatus: 'connected' });
    for (const [k, kind] of ['audio', 'video'].entries()) {
      const trackSid = `MT${hex(16)}`;
      const track = `${kind}-${person.identity}`;
      add(person.joins + 300 + k, 'track-added', {
        ...who,
        ParticipantStatus: 'connected',
        TrackSid: trackSid,
        TrackKind: kind,
        TrackName: track,
      });
      const recordingSid = `RT${hex(16)}`;
      recordings.push({ sid: recordingSid, track, person });
      add(person.joins + 600 + k, 'recording-started', {
        ...who,
        RecordingSid: recordingSid,
        SourceSid: trackSid,
        RecordingUri: `/v1/Recordings/${recordingSid}`,
        Container: kind === 'audio' ? 'mka' : 'mkv',
        Codec: kind === 'audio' ? 'opus' : 'VP8',
        Type: kind,
        TrackName: track,
        OffsetFromTwilioVideoEpoch: String(start + person.joins),
      });
    }
  }
  for (const [index, person] of [...people].reverse().entries()) {
    add(leaves + index * 1_000, 'participant-disconnected', {
      ParticipantSid: person.sid,
      ParticipantIdentity: person.identity,
      ParticipantStatus: 'disconnected',
      ParticipantDuration: String(Math.round((leaves + index * 1_000 - person.joins) / 1000)),
    });
  }
  for (const [index, recording] of recordings.entries()) {
    add(leaves + 2_500 + index, 'recording-completed', {
      ParticipantSid: recording.person.sid,
      ParticipantIdentity: recording.person.identity,
      RecordingSid: recording.sid,
      TrackName: recording.track,
      MediaUri: `/v1/Recordings/${recording.sid}/Media`,
      Duration: String(Math.round((leaves - recording.person.joins) / 1000)),
      Size: String(100_000 + index),
      MediaExternalLocation: '',
    });
  }
  add(CONSULTATION_MS, 'room-ended', { RoomDuration: String(CONSULTATION_MS / 1000) }, 'completed');
  out.sort((a, b) => a.at - b.at);
  return out.map((entry, sequence) => ({
    at: entry.at,
    params: { ...entry.params, SequenceNumber: String(sequence), Timestamp: new Date(entry.at).toISOString() },
  }));
}

/**
 * The callbacks of `rooms`, in Timestamp order, the first `count` of them. Twilio time ends
 * about one minute before `now`, so a long run needs ROOMGATE_WEBHOOK_MAX_AGE above the span
 * (rooms × 0.7 s); the benches set it.
 */
export function videoCallbacks(
  account: BenchAccount,
  rooms: readonly BenchRoom[],
  count: number,
  now = Date.now(),
): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const block of videoCallbackBlocks(account, rooms, rooms.length, now)) {
    out.push(...block.slice(0, count - out.length));
    if (out.length >= count) break;
  }
  return out;
}

/**
 * The same stream, generated `blockRooms` rooms at a time (a million callbacks do not fit in
 * memory as objects): each block in Timestamp order; only the few rooms live across a block
 * boundary are delivered slightly out of order, which Twilio does too.
 */
export function* videoCallbackBlocks(
  account: BenchAccount,
  rooms: readonly BenchRoom[],
  blockRooms: number,
  now = Date.now(),
): Generator<Record<string, string>[]> {
  const first = now - 60_000 - CONSULTATION_MS - rooms.length * ROOM_SPACING_MS;
  for (let offset = 0; offset < rooms.length; offset += blockRooms) {
    const block = rooms
      .slice(offset, offset + blockRooms)
      .flatMap((room, index) => roomCallbacks(account, room, first + (offset + index) * ROOM_SPACING_MS));
    block.sort((a, b) => a.at - b.at);
    yield block.map((entry) => entry.params);
  }
}

/** A form POST Twilio would send to `url`, signed with `token` (the reference signer). */
export function signedRequest(url: string, token: string, params: Record<string, string>, tag?: string): LoadRequest & { tag?: string } {
  return {
    path: new URL(url).pathname,
    body: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, params),
      'i-twilio-idempotency-token': randomBytes(16).toString('hex'),
    },
    ...(tag ? { tag } : {}),
  };
}

/** The same callback with a well-formed signature made with the wrong token: the costly forgery. */
export function forgedRequest(url: string, params: Record<string, string>, tag = 'forged'): LoadRequest & { tag?: string } {
  return signedRequest(url, hex(16), params, tag);
}

export function webhookUrl(port: number): string {
  return `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
}

/**
 * The ingest benches' workload: `warmup` + `measured` distinct callbacks of enough two-person
 * rooms, signed for `port` (taken free now), their parameters in send order beside them.
 */
export async function signedWorkload(measuredCount: number, warmupCount: number) {
  const account = benchAccount();
  const rooms = benchRooms(Math.ceil((measuredCount + warmupCount) / CALLBACKS_PER_ROOM));
  const port = await freePort();
  const url = webhookUrl(port);
  const started = Date.now();
  const callbackParams = videoCallbacks(account, rooms, measuredCount + warmupCount);
  const all = callbackParams.map((params) => signedRequest(url, account.authToken, params));
  return {
    account,
    rooms,
    port,
    callbackParams,
    warmup: all.slice(0, warmupCount),
    measured: all.slice(warmupCount),
    signingMs: Date.now() - started,
  };
}
