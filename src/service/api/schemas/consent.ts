/** The consent ledger's body and model (issue 20). */
import { Type, type Static } from 'typebox';
import { Timestamp } from './common.js';

const Kind = Type.Union([Type.Literal('recording'), Type.Literal('transcription')], {
  description: 'What the participant consents to.',
});
const Decision = Type.Union([Type.Literal('given'), Type.Literal('withdrawn')]);

export const RecordConsentBody = Type.Object(
  {
    identity: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The participant’s identity (an opaque pseudonym that passes the identity policy).',
    }),
    kind: Kind,
    decision: Decision,
    textVersion: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9._:/#-]+$',
      description: 'The version of the consent text the participant was shown (e.g. `rec-2026-03`).',
    }),
    recordedBy: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: '^[A-Za-z0-9._:@/#-]+$',
        description:
          'Who recorded the decision: the participant themself (their identity) or a staff reference of the platform. Never personal data.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ConsentEntry = Type.Object(
  {
    id: Type.String(),
    position: Type.Integer({ minimum: 1, description: 'The entry’s place in the consultation’s ledger: 1, 2, …' }),
    identity: Type.String(),
    kind: Kind,
    decision: Decision,
    textVersion: Type.String(),
    recordedBy: Type.Union([Type.String(), Type.Null()]),
    recordedAt: Timestamp,
  },
  { additionalProperties: false, $id: 'ConsentEntry', title: 'ConsentEntry' },
);
export type ConsentEntryView = Static<typeof ConsentEntry>;

export const ConsentLedger = Type.Object(
  {
    consentMode: Type.Union([Type.Literal('all-parties'), Type.Literal('one-party'), Type.Literal('off')], {
      description: 'The tenant’s consent mode (README, "Recording only with consent").',
    }),
    data: Type.Array(Type.Ref('ConsentEntry'), { description: 'Every decision, in ledger order (append-only).' }),
    current: Type.Array(
      Type.Object({ identity: Type.String(), kind: Kind, decision: Decision, since: Timestamp }, { additionalProperties: false }),
      { description: 'Each identity’s latest decision per kind.' },
    ),
  },
  { additionalProperties: false, $id: 'ConsentLedger', title: 'ConsentLedger' },
);
