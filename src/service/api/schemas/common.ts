/**
 * Building blocks every route's schema uses: RFC 3339 times, the error envelope, the one page
 * shape (`cursor` + `limit` in, `data` + `nextCursor` out) and the error answers each route
 * documents. These are plain JSON Schema (TypeBox); the OpenAPI document is generated from them.
 */
import { Type, type TSchema } from 'typebox';

/** An instant, RFC 3339 with offset; the API always answers UTC with milliseconds. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-03-01T09:30:00.000Z'] });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'A stable code from docs/errors.md.' }),
        message: Type.String(),
        requestId: Type.String({ description: 'Also in the X-Request-Id header; the log has the details under it.' }),
        field: Type.Optional(Type.String({ description: 'On 422: the field that was refused (dotted path).' })),
        scope: Type.Optional(Type.String({ description: 'On 403 FORBIDDEN_SCOPE: the scope the route needs.' })),
        current: Type.Optional(Type.Unknown({ description: 'On 409: the resource as it is now.' })),
        window: Type.Optional(
          Type.Object(
            { opensAt: Type.String({ format: 'date-time' }), closesAt: Type.String({ format: 'date-time' }) },
            { additionalProperties: false, description: 'On 422 WINDOW_NOT_OPEN / WINDOW_CLOSED: when token issuance opens and closes.' },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'ErrorEnvelope', title: 'Error' },
);

export const PAGE_LIMIT = { min: 1, max: 500, default: 100 } as const;

/** The paging parameters every list takes; routes add their filters next to these. */
export const pageQuery = {
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The `nextCursor` of the previous page.' })),
  limit: Type.Optional(
    Type.Integer({ minimum: PAGE_LIMIT.min, maximum: PAGE_LIMIT.max, default: PAGE_LIMIT.default, description: 'Items per page.' }),
  ),
};

export function page<T extends TSchema>(item: T) {
  return Type.Object(
    {
      data: Type.Array(item),
      nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last.' }),
    },
    { additionalProperties: false },
  );
}

const errorRef = Type.Ref('ErrorEnvelope');

/** The error answers every authenticated route may give, by status. */
export const API_ERRORS = {
  400: errorRef,
  401: errorRef,
  403: errorRef,
  413: errorRef,
  415: errorRef,
  422: errorRef,
  429: errorRef,
  500: errorRef,
  503: errorRef,
} as const;

export const withErrors = <T extends Record<number, TSchema>>(responses: T, ...extra: (404 | 409 | 502)[]) => ({
  ...API_ERRORS,
  ...Object.fromEntries(extra.map((status) => [status, errorRef])),
  ...responses,
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
