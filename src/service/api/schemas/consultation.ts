/** The one Consultation model: what create, fetch, list, end and cancel all answer. */
import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp, pageQuery } from './common.js';

export const CONSULTATION_STATUSES = ['scheduled', 'waiting', 'in-progress', 'interrupted', 'completed', 'cancelled', 'no-show'] as const;
export const ConsultationStatus = Type.Union(
  CONSULTATION_STATUSES.map((status) => Type.Literal(status)),
  {
    description:
      'scheduled → waiting → in-progress → completed; or cancelled / no-show. With an appointment window, in-progress → interrupted (the room ended inside the window; the next access token opens a new room) → in-progress …, and interrupted → completed when the window closes or the consultation is ended.',
  },
);

/** An opaque reference of the platform's own (an appointment id): unique per tenant. */
export const ExternalRef = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9._:/#-]+$',
  description: "The platform's own reference (e.g. its appointment id); unique per tenant. Not personal data.",
});

export const METADATA_LIMITS = { keys: 20, keyLength: 40, valueLength: 200 } as const;
// Written as plain JSON Schema: keys are bounded by a pattern, anything else is refused.
export const Metadata = Type.Unsafe<Record<string, string>>({
  type: 'object',
  patternProperties: {
    [`^[A-Za-z0-9_.-]{1,${METADATA_LIMITS.keyLength}}$`]: { type: 'string', maxLength: METADATA_LIMITS.valueLength },
  },
  additionalProperties: false,
  maxProperties: METADATA_LIMITS.keys,
  description:
    `Up to ${METADATA_LIMITS.keys} string values of up to ${METADATA_LIMITS.valueLength} characters under keys of letters, digits, ` +
    "`_ . -`, for the platform's own labels (clinic, visit type…). Never personal data: it is stored as given, kept as long as " +
    'the consultation, and shown to every key with consultations:read.',
});

/** Picks the code ladder of the billing evidence's suggested code (README "Billing evidence and code sets"). */
const PatientStatus = Type.Union([Type.Literal('new'), Type.Literal('established')], {
  description:
    'Whether the patient is new or established for this clinician (CPT/Medicare time thresholds differ); absent → no time-based code is suggested.',
});

export const CreateConsultationBody = Type.Object(
  {
    record: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          'Record the participants. When the tenant’s consent mode is all-parties or one-party, only participants who consent (POST …/consents) are recorded, through Twilio’s Recording Rules; with consent mode off, every participant from connect.',
      }),
    ),
    scheduledAt: Type.Optional(Timestamp),
    durationMinutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1440,
        description:
          "The slot's length; with `scheduledAt` (required then) it makes the appointment window: tokens only from the tenant's join-early minutes before `scheduledAt` to its grace after the end, and the room's MaxParticipantDuration fits it.",
      }),
    ),
    waitingRoom: Type.Optional(
      Type.Boolean({ description: 'Care recipients wait in the lobby until admitted; absent → the tenant’s setting.' }),
    ),
    patientStatus: Type.Optional(PatientStatus),
    externalRef: Type.Optional(ExternalRef),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);
export type CreateConsultationBody = Static<typeof CreateConsultationBody>;

export const ListConsultationsQuery = Type.Object(
  {
    ...pageQuery,
    status: Type.Optional(ConsultationStatus),
    externalRef: Type.Optional(ExternalRef),
  },
  { additionalProperties: false },
);

export const Consultation = Type.Object(
  {
    id: Type.String(),
    status: ConsultationStatus,
    externalRef: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } }),
    roomSid: Type.Union([Type.String(), Type.Null()]),
    roomName: Type.String(),
    record: Type.Boolean(),
    scheduledAt: NullableTimestamp,
    durationMinutes: Type.Union([Type.Integer(), Type.Null()], { description: 'The slot’s length; null: no appointment window.' }),
    waitingRoom: Type.Union([Type.Boolean(), Type.Null()], {
      description: 'This consultation’s waiting room setting; null → the tenant’s.',
    }),
    patientStatus: Type.Union([PatientStatus, Type.Null()], {
      description: 'New or established patient, as given at creation; null: not given.',
    }),
    noShow: Type.Union(
      [
        Type.Object(
          {
            missing: Type.Union([Type.Literal('clinician'), Type.Literal('care-recipient'), Type.Literal('both')]),
            waitedSeconds: Type.Integer({ description: 'How long the side that came waited.' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'Set when the appointment window closed without the clinician and the care recipient ever together.' },
    ),
    lobby: Type.Array(Type.Ref('LobbyEntry'), { description: 'Who waited in the waiting room, and how long.' }),
    rooms: Type.Array(
      Type.Object(
        {
          sequence: Type.Integer({ minimum: 1 }),
          roomSid: Type.Union([Type.String(), Type.Null()], { description: 'Null until Twilio answered.' }),
          roomName: Type.String(),
          createdAt: Timestamp,
          endedAt: NullableTimestamp,
        },
        { additionalProperties: false },
      ),
      {
        description:
          'Every room the consultation had, in order (rejoining: a room that ended inside the appointment window is followed by a new one on the next token request); the last is `roomSid` / `roomName`.',
      },
    ),
    consents: Type.Array(
      Type.Object(
        {
          identity: Type.String(),
          kind: Type.Union([Type.Literal('recording'), Type.Literal('transcription')]),
          decision: Type.Union([Type.Literal('given'), Type.Literal('withdrawn')]),
          since: Timestamp,
        },
        { additionalProperties: false },
      ),
      { description: 'Each identity’s current consent decision per kind; the whole ledger is GET /v1/consultations/{id}/consents.' },
    ),
    startedAt: NullableTimestamp,
    endedAt: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    participants: Type.Array(
      Type.Object(
        {
          identity: Type.String(),
          role: Type.String(),
          sessions: Type.Array(
            Type.Object(
              { participantSid: Type.String(), connectedAt: Timestamp, disconnectedAt: NullableTimestamp },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    statusHistory: Type.Array(
      Type.Object(
        {
          status: ConsultationStatus,
          at: Timestamp,
          source: Type.Optional(
            Type.Union([Type.Literal('reconciled'), Type.Literal('operator'), Type.Literal('inferred')], {
              description:
                'Absent when a callback made the change. reconciled: a fact read from Twilio’s REST API; operator: roomgate consultation complete; inferred: a connect known from its disconnect’s ParticipantDuration.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
      {
        description:
          'Every status the consultation entered, in order, with the moment it entered it: `scheduled` at its creation, then each change at the Twilio Timestamp of the event that made it (docs/lifecycle.md). The raw callbacks are GET /v1/consultations/{id}/callbacks.',
      },
    ),
    billing: Type.Union([
      Type.Object(
        {
          id: Type.String(),
          billableSeconds: Type.Integer(),
          roundedSeconds: Type.Integer(),
          version: Type.Integer(),
          updatedAt: Timestamp,
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false, $id: 'Consultation', title: 'Consultation' },
);
export type ConsultationView = Static<typeof Consultation>;

/** One stored callback of the consultation's room, as the callbacks list shows it. */
export const ConsultationCallback = Type.Object(
  {
    event: Type.String(),
    at: Timestamp,
    identity: Type.Union([Type.String(), Type.Null()]),
    status: Type.String({
      description:
        'accepted, quarantined, unmatched, or late (signed but older than the replay window: held until reconciliation confirms it).',
    }),
    source: Type.Union([Type.Literal('callback'), Type.Literal('reconciled'), Type.Literal('operator')], {
      description:
        'callback: sent by Twilio; reconciled: read from Twilio’s REST API by reconciliation; operator: roomgate consultation complete.',
    }),
  },
  { additionalProperties: false, $id: 'ConsultationCallback', title: 'ConsultationCallback' },
);

export const ListCallbacksQuery = Type.Object({ ...pageQuery }, { additionalProperties: false });
