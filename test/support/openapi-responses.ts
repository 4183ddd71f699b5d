/**
 * Every answer a test receives through `app.inject()` checked against the committed
 * docs/openapi.json: the operation (path template and method) must document the status, and a
 * JSON body must validate against that status's schema. startTestService() wires this into every
 * app it starts, so the whole API suite proves the document true. Paths the document does not
 * describe (unknown URLs → 404 from the router) are not checked.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;
const DOCUMENT_ID = 'roomgate-openapi';

interface Operation {
  readonly responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

export interface AnswerToCheck {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

export function createOpenApiChecker(documentUrl = new URL('../../docs/openapi.json', import.meta.url)) {
  const document = JSON.parse(readFileSync(documentUrl, 'utf8')) as Document;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  const templates = Object.keys(document.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      params: (template.match(/\{/g) ?? []).length,
    }))
    // A literal segment wins over a parameter (/v1/consultations before /v1/consultations/{id}).
    .sort((a, b) => a.params - b.params);

  /** Undefined when the answer agrees with the document, else what is wrong. */
  return function check(answer: AnswerToCheck): string | undefined {
    const path = answer.url.split('?')[0]!;
    const found = templates.find((candidate) => candidate.pattern.test(path));
    if (!found) return undefined;
    const method = answer.method.toLowerCase();
    const operation = document.paths[found.template]![method];
    if (!operation) return undefined; // the router answers other methods (404/405) on its own
    const label = `${answer.method} ${found.template} → ${answer.status}`;
    const response = operation.responses[String(answer.status)];
    if (!response) return `${label}: status not documented`;
    const mediaType = answer.contentType?.split(';')[0]?.trim();
    if (!mediaType || answer.body === '')
      return response.content?.['application/json'] && answer.status !== 204 ? `${label}: empty body` : undefined;
    if (mediaType !== 'application/json') {
      return response.content && !response.content[mediaType] ? `${label}: media type ${mediaType} not documented` : undefined;
    }
    if (!response.content?.['application/json']) return `${label}: JSON body not documented`;
    const pointer = ['paths', found.template, method, 'responses', String(answer.status), 'content', 'application/json', 'schema']
      .map((segment) => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1')))
      .join('/');
    const validate = ajv.getSchema(`${DOCUMENT_ID}#/${pointer}`);
    if (!validate) return `${label}: no schema`;
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      return `${label}: body is not JSON`;
    }
    if (validate(body)) return undefined;
    return `${label}: ${ajv.errorsText(validate.errors)} in ${answer.body.slice(0, 300)}`;
  };
}
