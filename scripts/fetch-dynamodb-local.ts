/**
 * Fetches DynamoDB Local into the per-user cache (CI runs this before the tests so the first test does not
 * pay for the download). Usage: `npx tsx scripts/fetch-dynamodb-local.ts [--check-java]`.
 * Prints the directory holding the jar.
 */
import { checkJava, DynamoDbLocalError, ensureDynamoDbLocal } from '../local/engines/dynamodb-local.ts';
import type { RuntimeLogger } from '../local/types.ts';

const logger: RuntimeLogger = {
  info: (message, fields) => console.error(message, fields ? JSON.stringify(fields) : ''),
  warn: (message, fields) => console.error(`warning: ${message}`, fields ? JSON.stringify(fields) : ''),
  error: (message, fields) => console.error(`error: ${message}`, fields ? JSON.stringify(fields) : ''),
  debug: () => {},
};

try {
  if (process.argv.includes('--check-java')) await checkJava();
  const dir = await ensureDynamoDbLocal({ logger });
  console.log(dir);
} catch (error) {
  console.error(error instanceof DynamoDbLocalError ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
}
