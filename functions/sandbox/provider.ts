/**
 * Sandbox payment provider + mail sink: the Lambda behind the sandbox HTTP API (`ANY /{proxy+}`).
 * Needs `SANDBOX_TABLE_NAME`. Its Lambda timeout must exceed the slowest answer it gives on purpose: `tok_timeout`
 * (10 s) plus the latency knob (at most 15 s) plus a few table calls, so 29 s, just under the HTTP API's 30 s.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { logger } from '#shared/logger.ts';
import { createProvider } from './app.ts';
import { newId, sleep } from './context.ts';
import { SandboxTable } from './store.ts';

const tableName = process.env.SANDBOX_TABLE_NAME;
if (!tableName) throw new Error('SANDBOX_TABLE_NAME is not set');

export const handler = createProvider({
  table: new SandboxTable(DynamoDBDocumentClient.from(new DynamoDBClient({})), tableName),
  // The shared logger: the chain's log scope (Lambda context, correlation id) is on it.
  logger,
  sleep,
  random: Math.random,
  now: () => new Date(),
  newId,
});
