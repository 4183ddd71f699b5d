/** API keys over the API: the model never carries the secret, except once in the create answer. */
import { Type } from 'typebox';
import { SCOPES } from '../../auth/scopes.js';
import { NullableTimestamp, Timestamp, pageQuery } from './common.js';

export const ScopeName = Type.Union(
  SCOPES.map((scope) => Type.Literal(scope)),
  { description: 'A scope; each route names the one it needs.' },
);

export const CreateApiKeyBody = Type.Object(
  {
    scopes: Type.Array(ScopeName, {
      minItems: 1,
      uniqueItems: true,
      description: 'Only scopes the calling key holds itself (else 403 naming the first one it lacks).',
    }),
    expiresAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

const apiKeyFields = {
  id: Type.String(),
  prefix: Type.String({ description: 'The public part of the key (its lookup id), to tell keys apart.' }),
  scopes: Type.Array(Type.String()),
  expiresAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
  createdAt: Timestamp,
};

export const ApiKey = Type.Object(apiKeyFields, { additionalProperties: false, $id: 'ApiKey', title: 'ApiKey' });

export const CreatedApiKey = Type.Object(
  { ...apiKeyFields, key: Type.String({ description: 'The full key: shown this once, never stored (only its hash is).' }) },
  { additionalProperties: false, $id: 'CreatedApiKey', title: 'CreatedApiKey' },
);

export const ListApiKeysQuery = Type.Object({ ...pageQuery }, { additionalProperties: false });
