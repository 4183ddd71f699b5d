/** The waiting room's bodies, params and model (issue 19). */
import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.js';

export const LobbyJoinBody = Type.Object(
  {
    identity: Type.String({ minLength: 1, maxLength: 200, description: 'An opaque pseudonym that passes the identity policy.' }),
    role: Type.String({
      minLength: 1,
      maxLength: 32,
      description: 'A care recipient’s role of the tenant kind: patient, pet-owner or caregiver.',
    }),
  },
  { additionalProperties: false },
);

export const LobbyParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), identity: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const LobbyEntry = Type.Object(
  {
    identity: Type.String(),
    role: Type.String(),
    status: Type.Union(['waiting', 'admitted', 'declined', 'left'].map((status) => Type.Literal(status))),
    joinedAt: Timestamp,
    decidedAt: NullableTimestamp,
    leftAt: NullableTimestamp,
    waitedSeconds: Type.Union([Type.Integer(), Type.Null()], {
      description: 'From joining the lobby to being admitted or declined (or leaving); null while still waiting.',
    }),
  },
  { additionalProperties: false, $id: 'LobbyEntry', title: 'LobbyEntry' },
);
