/** The tenant's own settings over the API (issue 19: appointment windows and the waiting room). */
import { Type } from 'typebox';

const Minutes = Type.Integer({ minimum: 0, maximum: 1440 });
const ConsentMode = Type.Union([Type.Literal('all-parties'), Type.Literal('one-party'), Type.Literal('off')], {
  description:
    'How recording follows the consent ledger (README, "Recording only with consent"): all-parties — nothing while anyone present has not consented; one-party — each consenting participant’s own tracks; off — every participant from connect. Rooms created from then on.',
});

export const TenantSettings = Type.Object(
  {
    joinEarlyMinutes: Type.Integer({
      minimum: 0,
      description: 'How many minutes before `scheduledAt` a scheduled consultation’s window opens (tokens, rooms).',
    }),
    joinGraceMinutes: Type.Integer({
      minimum: 0,
      description:
        'How many minutes after the slot’s end the window stays open (rejoining; then the consultation completes, or is named a no-show).',
    }),
    waitingRoom: Type.Boolean({ description: 'Care recipients wait in the lobby until admitted (a consultation may say otherwise).' }),
    consentMode: ConsentMode,
    defaults: Type.Object(
      { joinEarlyMinutes: Type.Integer(), joinGraceMinutes: Type.Integer() },
      { additionalProperties: false, description: 'What a setting reset to null means.' },
    ),
  },
  { additionalProperties: false, $id: 'TenantSettings', title: 'TenantSettings' },
);

export const UpdateTenantSettingsBody = Type.Object(
  {
    joinEarlyMinutes: Type.Optional(Type.Union([Minutes, Type.Null()], { description: '0–1440; null: the default.' })),
    joinGraceMinutes: Type.Optional(Type.Union([Minutes, Type.Null()], { description: '0–1440; null: the default.' })),
    waitingRoom: Type.Optional(Type.Boolean()),
    consentMode: Type.Optional(ConsentMode),
  },
  { additionalProperties: false, minProperties: 1 },
);
