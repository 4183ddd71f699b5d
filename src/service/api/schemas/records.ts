/** Access tokens, recordings and the composition, billing records, the audit log, erasure, health. */
import { Type } from 'typebox';
import { NullableTimestamp, Timestamp, pageQuery } from './common.js';

export const IssueTokenBody = Type.Object(
  {
    identity: Type.String({ minLength: 1, maxLength: 200, description: 'An opaque pseudonym that passes the identity policy.' }),
    role: Type.String({ minLength: 1, maxLength: 32, description: "One of the roles of the tenant's kind (human or veterinary)." }),
  },
  { additionalProperties: false },
);

export const AccessToken = Type.Object(
  { token: Type.String(), identity: Type.String(), role: Type.String(), roomName: Type.String(), expiresAt: Timestamp },
  { additionalProperties: false, $id: 'AccessToken', title: 'AccessToken' },
);

export const Recording = Type.Object(
  {
    recordingSid: Type.String(),
    trackName: Type.Union([Type.String(), Type.Null()]),
    participantSid: Type.Union([Type.String(), Type.Null()], { description: 'Whose track this is (Twilio PA…).' }),
    identity: Type.Union([Type.String(), Type.Null()], { description: "That participant's identity (null if unknown or erased)." }),
    kind: Type.Union([Type.String(), Type.Null()], { description: '`audio`, `video` or `data`.' }),
    status: Type.String(),
    duration: Type.Union([Type.Integer(), Type.Null()]),
    size: Type.Union([Type.Integer(), Type.Null()]),
    mediaUri: Type.Union([Type.String(), Type.Null()]),
    completedAt: NullableTimestamp,
    consentFlag: Type.Union([Type.Literal('not-consented'), Type.Null()], {
      description:
        'not-consented: Twilio recorded this participant while they had not consented to recording (an alert was raised; never composed). Null otherwise.',
    }),
  },
  { additionalProperties: false },
);

export const Composition = Type.Object(
  {
    roomSid: Type.String({ description: 'The room composed: a consultation that rejoined has one composition per room that recorded.' }),
    compositionSid: Type.Union([Type.String(), Type.Null()]),
    status: Type.String(),
    attempts: Type.Integer(),
    mediaUri: Type.Union([Type.String(), Type.Null()]),
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

export const Recordings = Type.Object(
  {
    recordings: Type.Array(Recording),
    composition: Type.Union([Composition, Type.Null()], {
      description: "The latest room's composition (the last of `compositions`); null before any was requested.",
    }),
    compositions: Type.Array(Composition, { description: 'One per room that was composed, in the order of the rooms.' }),
  },
  { additionalProperties: false, $id: 'Recordings', title: 'Recordings' },
);

export const ListBillingQuery = Type.Object(
  {
    ...pageQuery,
    updatedSince: Type.Optional(Type.String({ format: 'date-time', description: 'Only records created or corrected after this instant.' })),
    since: Type.Optional(Type.String({ format: 'date-time', deprecated: true, description: 'Former name of `updatedSince`.' })),
  },
  { additionalProperties: false },
);

export const BillingRecord = Type.Object(
  {
    id: Type.String(),
    consultationId: Type.String(),
    billableSeconds: Type.Integer(),
    roundedSeconds: Type.Integer(),
    intervals: Type.Array(Type.Object({ start: Timestamp, end: Timestamp }, { additionalProperties: false })),
    version: Type.Integer({ minimum: 1, description: '1 when first recorded; grows with every correction.' }),
    suggestedCode: Type.Union(
      [
        Type.Object(
          {
            codeSet: Type.String(),
            code: Type.Union([Type.String(), Type.Null()]),
            modifier: Type.Union([Type.String(), Type.Null()]),
            units: Type.Integer(),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      {
        description:
          'The code the tenant’s code set suggests for this version (`code: null`: none; the evidence says why) — a help, not coding advice; null for a version recorded before evidence existed. How it was measured: `GET /v1/billing-records/{id}/evidence`.',
      },
    ),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false, $id: 'BillingRecord', title: 'BillingRecord' },
);

export const ListAuditQuery = Type.Object(
  { ...pageQuery, since: Type.Optional(Type.String({ format: 'date-time', description: 'Only rows at or after this instant.' })) },
  { additionalProperties: false },
);

export const AuditEntry = Type.Object(
  {
    id: Type.String(),
    actor: Type.String(),
    action: Type.String(),
    target: Type.String(),
    outcome: Type.String(),
    detail: Type.Unknown(),
    createdAt: Timestamp,
  },
  { additionalProperties: false, $id: 'AuditEntry', title: 'AuditEntry' },
);

const count = Type.Integer({ minimum: 0 });
export const ErasureResult = Type.Object(
  {
    erased: Type.Literal(true),
    pseudonym: Type.String({ description: 'What replaced the identity; the audit log names the erasure by it.' }),
    participants: count,
    sessions: count,
    issuedIdentities: count,
    recordings: count,
    callbacks: count,
    auditEntries: count,
    securityEvents: count,
    outbox: count,
    events: count,
    consents: Type.Integer({ minimum: 0, description: 'Consent ledger entries naming the identity (kept, pseudonymised).' }),
  },
  {
    additionalProperties: false,
    $id: 'Erasure',
    title: 'Erasure',
    description: 'Counts of the rows this call changed; zeros on a repeat.',
  },
);

export const CompositionMediaQuery = Type.Object(
  { roomSid: Type.Optional(Type.String({ description: "The room whose composition to fetch; absent: the latest room's." })) },
  { additionalProperties: false },
);
