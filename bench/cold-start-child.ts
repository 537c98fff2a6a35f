/**
 * One cold start, in a fresh Node.js process started by bench/sections/cold-start.ts with the function's
 * environment: load the bundle (Lambda's init phase) and serve one invocation with a recorded event.
 * `node bench/cold-start-child.ts <bundle> <event.json> <result.json>`; an event of `null` means load only. Only erasable TypeScript here: Node runs
 * this file itself, without a loader, so the measurement holds no loader start-up either.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const bootMs = performance.now();
const [bundle, eventFile, resultFile] = process.argv.slice(2);
if (!bundle || !eventFile || !resultFile) {
  throw new Error('usage: cold-start-child.ts <bundle> <event.json> <result.json>');
}
const event: unknown = JSON.parse(readFileSync(eventFile, 'utf8'));
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'cold-start';
const context = {
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '256',
  awsRequestId: 'cold-start-request',
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'cold-start',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

const importStart = performance.now();
const loaded = createRequire(import.meta.url)(bundle) as { handler?: (e: unknown, c: unknown) => unknown };
const importMs = performance.now() - importStart;

/** An answer that says the event was refused, so the timing is not that of real work. */
function refusal(result: unknown): string | undefined {
  const { statusCode, batchItemFailures } = (result ?? {}) as {
    statusCode?: unknown;
    batchItemFailures?: unknown;
  };
  if (typeof statusCode === 'number' && statusCode >= 400) return `answered HTTP ${statusCode}`;
  if (Array.isArray(batchItemFailures) && batchItemFailures.length > 0) {
    return `reported ${batchItemFailures.length} batch item failure(s)`;
  }
  return undefined;
}

const invokeStart = performance.now();
let error: string | undefined;
try {
  if (typeof loaded.handler !== 'function') throw new Error('the bundle exports no handler');
  if (event !== null) error = refusal(await loaded.handler(event, context));
} catch (caught) {
  error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
}
const invokeMs = performance.now() - invokeStart;
writeFileSync(resultFile, JSON.stringify({ bootMs, importMs, invokeMs, error }));
// The SDK keeps sockets alive; the measurement is done.
process.exit(0);
