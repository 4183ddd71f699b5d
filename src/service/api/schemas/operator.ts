/** The platform operator's routes (/v1/operator/…) and the console's sign-in check. */
import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.js';

const count = Type.Integer({ minimum: 0 });

export const ConsoleSession = Type.Object(
  {
    tenant: Type.Object(
      { id: Type.String(), slug: Type.String(), kind: Type.Union([Type.Literal('human'), Type.Literal('veterinary')]) },
      { additionalProperties: false },
    ),
    key: Type.Object(
      { id: Type.String(), scopes: Type.Array(Type.String(), { description: 'What the console may show and do with this key.' }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'ConsoleSession', title: 'ConsoleSession' },
);

export const RefusalsQuery = Type.Object(
  {
    hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 168, default: 6, description: 'How many hours back, up to now.' })),
    bucketMinutes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1440, default: 15, description: 'The width of one bar of the chart.' }),
    ),
  },
  { additionalProperties: false },
);

export const RefusalChart = Type.Object(
  {
    from: Timestamp,
    to: Timestamp,
    bucketMinutes: Type.Integer(),
    reasons: Type.Array(Type.String(), { description: 'Every reason seen in the period, most frequent first.' }),
    buckets: Type.Array(
      Type.Object(
        {
          start: Timestamp,
          counts: Type.Record(Type.String(), count, { description: 'Refusals by reason in this bucket.' }),
          total: count,
        },
        { additionalProperties: false },
      ),
    ),
    total: count,
    truncated: Type.Boolean({ description: 'More events were stored in the period than one answer reads (the counts are a floor).' }),
  },
  {
    additionalProperties: false,
    $id: 'RefusalChart',
    title: 'RefusalChart',
    description:
      'Refused callbacks by reason, from the stored security events. At most ROOMGATE_ALERT_WINDOW’s 100 events are stored per window (a forged flood is counted in roomgate_webhook_refusals_total but not stored one by one).',
  },
);

export const QuarantinedCallback = Type.Object(
  {
    id: Type.String(),
    at: Timestamp,
    reason: Type.String({ description: 'Why the callback was kept aside (schema refusal, identity policy, account mismatch…).' }),
    event: Type.Union([Type.String(), Type.Null()]),
    roomSid: Type.Union([Type.String(), Type.Null()]),
    accountSid: Type.Union([Type.String(), Type.Null()], { description: 'The AccountSid the callback claimed.' }),
  },
  { additionalProperties: false, $id: 'QuarantinedCallback', title: 'QuarantinedCallback' },
);

export const QuarantineQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);

export const DiagnoseBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 4096, description: 'The URL the server verified against.' }),
    params: Type.Array(
      Type.Object({ name: Type.String({ maxLength: 1024 }), value: Type.String({ maxLength: 65536 }) }, { additionalProperties: false }),
      { maxItems: 500, description: 'The decoded form parameters, in any order.' },
    ),
    signature: Type.String({ minLength: 1, maxLength: 128, description: 'The X-Twilio-Signature header received.' }),
    token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'An auth token to try; absent → every token this service is configured with. Never stored or echoed.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DiagnoseResult = Type.Object(
  {
    match: Type.Boolean(),
    causes: Type.Array(
      Type.String({
        description:
          'scheme, host, port, path-prefix, query-encoding, parameters, re-split, token or unknown; several when mistakes combine.',
      }),
    ),
    explanation: Type.String(),
    matchingUrl: Type.Union([Type.String(), Type.Null()], { description: 'The URL the signature was made for, when one was found.' }),
    secretId: Type.Union([Type.String(), Type.Null()], { description: 'Which configured token matched (its label, never the token).' }),
  },
  { additionalProperties: false, $id: 'DiagnoseResult', title: 'DiagnoseResult' },
);

export const OperatorTenant = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    kind: Type.String(),
    createdAt: Timestamp,
    consultations: Type.Object(
      {
        total: count,
        live: Type.Integer({ minimum: 0, description: 'waiting or in progress' }),
        byStatus: Type.Record(Type.String(), count),
      },
      { additionalProperties: false },
    ),
    health: Type.Object(
      {
        status: Type.Union([Type.Literal('ok'), Type.Literal('attention')]),
        quarantinedLastDay: count,
        staleConsultations: Type.Integer({ minimum: 0, description: 'Not final and unchanged for an hour.' }),
        lastCallbackAt: NullableTimestamp,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'OperatorTenant', title: 'OperatorTenant' },
);

export const ReconciliationActivity = Type.Object(
  {
    lease: Type.Union([Type.Object({ holder: Type.String(), expiresAt: Timestamp }, { additionalProperties: false }), Type.Null()]),
    heldLateCallbacks: count,
    changes: Type.Array(
      Type.Object(
        {
          at: Timestamp,
          consultationId: Type.String(),
          outcome: Type.String(),
          reason: Type.Union([Type.String(), Type.Null()]),
          facts: Type.Array(Type.String()),
          confirmedLate: count,
        },
        { additionalProperties: false },
      ),
      { description: 'Records the reconciler changed, newest first.' },
    ),
    compared: Type.Array(
      Type.Object(
        { consultationId: Type.String(), tenant: Type.String(), status: Type.String(), reconciledAt: Timestamp },
        { additionalProperties: false },
      ),
      { description: 'Consultations it compared with Twilio most recently.' },
    ),
  },
  { additionalProperties: false, $id: 'ReconciliationActivity', title: 'ReconciliationActivity' },
);
