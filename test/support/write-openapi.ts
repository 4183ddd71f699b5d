/**
 * `npm run openapi`: writes docs/openapi.json from the routes' schemas, and the TypeScript types
 * that openapi-typescript generates from it (test/support/generated/roomgate-api.d.ts, used by
 * the generated-client test). test/api/openapi-document.test.ts fails when either is stale.
 */
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../../src/service/api/openapi-document.js';
import { generatedClientTypes } from './openapi-client-types.js';

const documentFile = new URL('../../docs/openapi.json', import.meta.url);
const typesFile = new URL('./generated/roomgate-api.d.ts', import.meta.url);
const document = await buildOpenApiDocument();
writeFileSync(documentFile, serializeOpenApiDocument(document));
writeFileSync(typesFile, await generatedClientTypes(document));
console.log(`wrote ${documentFile.pathname} and ${typesFile.pathname}`);
