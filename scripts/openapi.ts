/**
 * `npm run openapi`: writes the OpenAPI document generated from the handlers' zod schemas (openapi.json) and the typed
 * client's types generated from it (client/api-types.ts). Both are committed; the unit tests fail when they are stale.
 */
import { writeFile } from 'node:fs/promises';
import { CLIENT_TYPES_FILE, clientTypesText } from '#client/generate.ts';
import { buildOpenApiDocument, OPENAPI_FILE, openApiText } from '#functions/api/openapi.ts';

await writeFile(OPENAPI_FILE, openApiText());
await writeFile(CLIENT_TYPES_FILE, await clientTypesText(buildOpenApiDocument()));
console.log(`wrote ${OPENAPI_FILE} and ${CLIENT_TYPES_FILE}`);
