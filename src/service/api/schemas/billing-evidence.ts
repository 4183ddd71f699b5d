/** GET /v1/billing-records/:id/evidence: how a billing record was measured, and where it sits in the tenant's billing chain. */
import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.js';

const Strict = { additionalProperties: false } as const;
const Modality = Type.Union([Type.Literal('audio-video'), Type.Literal('audio-only'), Type.Literal('unknown')]);
const Role = Type.Union([Type.Literal('clinician'), Type.Literal('care-recipient')]);
const Sids = Type.Array(Type.String(), { description: 'Twilio participant SIDs (see `participants` for identities).' });

const EvidenceDocument = Type.Object(
  {
    schema: Type.Literal('roomgate.billing-evidence.v1'),
    rule: Type.String(),
    sessions: Type.Array(
      Type.Object(
        {
          participantSid: Type.String(),
          role: Role,
          roomSid: Type.Optional(Type.String()),
          from: Timestamp,
          to: Timestamp,
          connectInferred: Type.Optional(Type.Literal(true)),
        },
        Strict,
      ),
      { description: 'The sessions of the clinicians and care recipients whose overlap is billed.' },
    ),
    segments: Type.Array(
      Type.Object(
        { from: Timestamp, to: Timestamp, durationMs: Type.Integer(), clinicians: Sids, careRecipients: Sids, modality: Modality },
        Strict,
      ),
      { description: 'The billed overlap, cut wherever someone joined or left or a track was published or removed.' },
    ),
    gaps: Type.Array(Type.Object({ from: Timestamp, to: Timestamp, durationMs: Type.Integer() }, Strict), {
      description: 'Unbilled time between overlap intervals.',
    }),
    rejoins: Type.Array(
      Type.Object(
        { role: Role, leftSession: Type.String(), rejoinedSession: Type.String(), leftAt: Timestamp, rejoinedAt: Timestamp },
        Strict,
      ),
      { description: 'A clinician or care recipient who left and came back (a new session of the same identity).' },
    ),
    modality: Type.Object(
      { kind: Modality, videoMs: Type.Integer(), audioOnlyMs: Type.Integer(), basis: Type.String() },
      { ...Strict, description: 'From the tracks published during the overlap.' },
    ),
    measurement: Type.Object(
      { billableSeconds: Type.Integer(), roundedSeconds: Type.Integer(), roundingSeconds: Type.Integer(), rounding: Type.String() },
      Strict,
    ),
    suggestion: Type.Object(
      {
        codeSet: Type.Union([Type.Literal('us-cpt-2025'), Type.Literal('us-medicare'), Type.Literal('flat')]),
        code: Type.Union([Type.String(), Type.Null()]),
        modifier: Type.Union([Type.String(), Type.Null()]),
        units: Type.Integer(),
        thresholdMinutes: Type.Union([Type.Integer(), Type.Null()]),
        description: Type.String(),
        reason: Type.Union([
          Type.Literal('under-minimum'),
          Type.Literal('patient-status-unknown'),
          Type.Literal('modality-unknown'),
          Type.Literal('no-overlap'),
          Type.Null(),
        ]),
        patientStatus: Type.Union([Type.Literal('new'), Type.Literal('established'), Type.Null()]),
        sources: Type.Array(Type.String()),
      },
      { ...Strict, description: 'A help for the coder, not coding advice: the payer decides on the documentation.' },
    ),
  },
  Strict,
);

export const BillingEvidenceQuery = Type.Object(
  {
    version: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2_147_483_647,
        description: 'An earlier version (1 = as first recorded); absent: the current one.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BillingEvidence = Type.Object(
  {
    billingRecordId: Type.String(),
    consultationId: Type.String(),
    version: Type.Integer({ minimum: 1, description: 'The version this evidence is of.' }),
    currentVersion: Type.Integer({ minimum: 1, description: 'The billing record’s version now.' }),
    evidence: Type.Union([EvidenceDocument, Type.Null()], {
      description: 'null for a version recorded before evidence existed (it is still chained).',
    }),
    participants: Type.Array(Type.Object({ participantSid: Type.String(), identity: Type.Union([Type.String(), Type.Null()]) }, Strict), {
      description: 'Who each participant SID is, read now (not part of the chained evidence, so an erasure never breaks the chain).',
    }),
    chain: Type.Union(
      [
        Type.Object(
          {
            sequence: Type.Integer({ minimum: 1, description: "This version's position in the tenant's billing chain." }),
            hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
            previousHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
            recordedAt: Timestamp,
            headSequence: Type.Integer({ description: "The tenant chain's last sequence now." }),
            entryIntact: Type.Boolean({
              description:
                'This entry’s hash recomputes from its content and the billing record equals it. The links to the entries before are checked by `roomgate billing verify`.',
            }),
          },
          Strict,
        ),
        Type.Null(),
      ],
      { description: 'SHA-256 over canonical JSON, each entry naming the previous entry’s hash; `roomgate billing verify` recomputes it.' },
    ),
    updatedAt: NullableTimestamp,
  },
  { ...Strict, $id: 'BillingEvidence', title: 'BillingEvidence' },
);
