/**
 * The events of the tenant's event log, as SSE, WebSocket, `GET /v1/events` (JSON) and webhooks
 * carry them: one envelope, and per type the shape of `data` (core/events/tenant-event.ts).
 */
import { Type, type TSchema } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.js';

const Status = Type.String({ description: 'scheduled, waiting, in-progress, interrupted, completed, cancelled or no-show.' });
const Seconds = Type.Integer({ minimum: 0 });

/** `data` of each event type. */
export const EVENT_PAYLOADS = {
  'consultation.status': Type.Object({ from: Status, to: Status }, { additionalProperties: false }),
  'consultation.no_show': Type.Object(
    {
      endedAt: NullableTimestamp,
      missing: Type.Optional(
        Type.Union([Type.Literal('clinician'), Type.Literal('care-recipient'), Type.Literal('both')], {
          description: 'Set when the appointment window closed: who never came.',
        }),
      ),
      waitedSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'How long the side that came waited.' })),
    },
    { additionalProperties: false },
  ),
  'consultation.room_opened': Type.Object(
    {
      roomSid: Type.String(),
      roomName: Type.String({ description: 'The name access tokens are now signed for.' }),
      sequence: Type.Integer({ minimum: 2, description: 'The room’s place among the consultation’s rooms (the first is 1).' }),
    },
    {
      additionalProperties: false,
      description: 'Rejoining: the room had ended inside the appointment window, and a token request opened the next one.',
    },
  ),
  ...Object.fromEntries(
    (['lobby.joined', 'lobby.admitted', 'lobby.declined', 'lobby.left'] as const).map((type) => [
      type,
      Type.Object(
        {
          identity: Type.String(),
          role: Type.String(),
          at: Timestamp,
          waitedSeconds: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Null while still waiting.' }),
        },
        { additionalProperties: false },
      ),
    ]),
  ),
  'participant.joined': Type.Object(
    {
      identity: Type.Union([Type.String(), Type.Null()]),
      role: Type.Union([Type.String(), Type.Null()], { description: 'The role the access token was issued with.' }),
      at: NullableTimestamp,
    },
    { additionalProperties: false },
  ),
  'participant.left': Type.Object(
    { identity: Type.Union([Type.String(), Type.Null()]), at: NullableTimestamp },
    { additionalProperties: false },
  ),
  ...Object.fromEntries(
    (['consent.given', 'consent.withdrawn'] as const).map((type) => [
      type,
      Type.Object(
        {
          identity: Type.String(),
          kind: Type.Union([Type.Literal('recording'), Type.Literal('transcription')]),
          textVersion: Type.String(),
          recordedBy: Type.Union([Type.String(), Type.Null()]),
          position: Type.Integer({ minimum: 1, description: "The entry's place in the consultation's consent ledger." }),
          at: Timestamp,
        },
        { additionalProperties: false },
      ),
    ]),
  ),
  'recording.available': Type.Object({ recordingSid: Type.String() }, { additionalProperties: false }),
  'recording.unconsented': Type.Object(
    {
      recordingSid: Type.String(),
      identity: Type.Union([Type.String(), Type.Null()]),
      kind: Type.Union([Type.String(), Type.Null()]),
      startedAt: NullableTimestamp,
    },
    {
      additionalProperties: false,
      description: 'Twilio reported a recording of a participant who had not consented to recording: flagged in the record, alert raised.',
    },
  ),
  'composition.available': Type.Object(
    {
      compositionSid: Type.Union([Type.String(), Type.Null()]),
      roomSid: Type.Optional(
        Type.String({ description: 'The room composed (a consultation has one composition per room that recorded).' }),
      ),
    },
    { additionalProperties: false },
  ),
  'billing.recorded': Type.Object({ billableSeconds: Seconds, roundedSeconds: Seconds }, { additionalProperties: false }),
  'billing.corrected': Type.Object(
    { billableSeconds: Seconds, roundedSeconds: Seconds },
    { additionalProperties: false, description: 'A late callback changed the billed overlap: the record was corrected in place.' },
  ),
  'callback.quarantined': Type.Object(
    {
      callbackEvent: Type.String({ description: "The callback's StatusCallbackEvent (`unknown` when it could not be read)." }),
      reason: Type.String({
        description:
          'Why it was not applied: account-mismatch, identity-<policy reason>, identity-never-issued (never the identity itself).',
      }),
    },
    {
      additionalProperties: false,
      description: 'A signed callback for this consultation was quarantined, not applied (security alert raised).',
    },
  ),
  'webhook-endpoint.disabled': Type.Object(
    {
      endpointId: Type.String(),
      url: Type.String(),
      reason: Type.String(),
      failingSince: Timestamp,
    },
    {
      additionalProperties: false,
      description: 'An endpoint failing without a success for ROOMGATE_WEBHOOK_DISABLE_AFTER was disabled (consultationId is null).',
    },
  ),
} as const satisfies Record<string, TSchema>;

/** Events about the tenant's set-up rather than one consultation carry no consultation id. */
const TENANT_LEVEL_TYPES: ReadonlySet<string> = new Set(['webhook-endpoint.disabled']);

const envelope = (type: string, data: TSchema) =>
  Type.Object(
    {
      id: Type.String({ description: 'Unique; the `webhook-id` of its webhook deliveries.' }),
      sequence: Type.Integer({ minimum: 1, description: 'Strictly increasing per tenant: the SSE `id:` and the `after` cursor.' }),
      type: Type.Literal(type),
      consultationId: TENANT_LEVEL_TYPES.has(type) ? Type.Null() : Type.String(),
      at: Timestamp,
      data,
    },
    { additionalProperties: false },
  );

export const TenantEventSchema = Type.Union(
  Object.entries(EVENT_PAYLOADS).map(([type, data]) => envelope(type, data)),
  { $id: 'Event', title: 'Event', description: 'A change of a consultation, from the tenant event log.' },
);

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        // A sequence is a bigint: beyond what a double holds exactly it names no event (422, never a 500).
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Events with a higher sequence than this (default 0; for SSE: `Last-Event-ID` wins).',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Events per page (JSON only).' })),
  },
  { additionalProperties: false },
);

export const EventPage = Type.Object(
  {
    data: Type.Array(Type.Ref('Event')),
    lastSequence: Type.Integer({ minimum: 0, description: 'Pass as `after` for the next page (unchanged when there was nothing new).' }),
  },
  { additionalProperties: false },
);
