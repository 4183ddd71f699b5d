/** `npm run openapi`: writes docs/openapi.json from the routes' schemas. */
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../../src/service/api/openapi-document.js';

const target = new URL('../../docs/openapi.json', import.meta.url);
writeFileSync(target, serializeOpenApiDocument(await buildOpenApiDocument()));
console.log(`wrote ${target.pathname}`);
