/**
 * A schema refusal as the API answers it: 422 VALIDATION_FAILED naming the field — `limit`,
 * `body.record`, `header idempotency-key` — and what is wrong with it, in the usual envelope.
 */
import type { FastifyError } from 'fastify';

interface SchemaIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

export interface FieldRefusal {
  /** Dotted path of the offending field, e.g. `record` or `metadata.visit`; `` for the whole body. */
  readonly field: string;
  readonly message: string;
}

export function isSchemaRefusal(error: FastifyError): boolean {
  return Array.isArray(error.validation) && error.validation.length > 0;
}

export function describeSchemaRefusal(error: FastifyError): FieldRefusal {
  const issue = error.validation![0] as unknown as SchemaIssue;
  const where = error.validationContext ?? 'body';
  const path = issue.instancePath.split('/').filter(Boolean).map(decodePointer);
  if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') path.push(issue.params.missingProperty);
  if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
    path.push(issue.params.additionalProperty);
  }
  const field = path.join('.');
  const what =
    issue.keyword === 'additionalProperties' ? 'is not a known field' : issue.keyword === 'required' ? 'is required' : issue.message;
  const label = field === '' ? (where === 'body' ? 'the request body' : where) : where === 'headers' ? `header ${field}` : field;
  return { field: field === '' && where === 'body' ? '' : field, message: `${label} ${what ?? 'is not valid'}` };
}

/**
 * A path parameter that locates a resource (`id`, `deliveryId`, an asset's `name`) which its
 * schema refuses — empty (`GET /v1/consultations/`) or longer than any id — names nothing that
 * exists: 404 NOT_FOUND, the answer an unknown id of the right shape gets, not 422.
 */
export function refusesResourcePath(error: FastifyError): boolean {
  if (error.validationContext !== 'params' || !isSchemaRefusal(error)) return false;
  return isResourcePathField(describeSchemaRefusal(error).field);
}

/** A path parameter that locates a resource (`id`, `deliveryId`, `name`), not one that carries a value (an identity). */
export function isResourcePathField(field: string): boolean {
  return /^(id|name)$|Id$/.test(field);
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
