/**
 * Brings the synchronous flow (`functions/orders/place-order-sync.ts`, what `-c orderFlow=sync` deploys as
 * `POST /orders`) up next to Buzzer in the same runtime, so cases 1, 2 and 4 share one machine state: bundled with
 * esbuild the way NodejsFunction bundles the real functions, registered with the same Lambda service (worker-thread
 * environments, same SDK endpoints), and served by the same local HTTP API engine with the same API-key authorizer.
 * It writes to its own copy of the table, so its orders' events never reach Buzzer's outbox relay and consumers
 * (its mail goes out in the request; the notify worker would only find it sent).
 */
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { build } from 'esbuild';
import { PAYMENT_UNAVAILABLE_RETRIES } from '#contracts/circuit.ts';
import { DEMO_CATALOGUE, putStock } from '#local/buzzer/seed.ts';
import { startHttpApi } from '#local/engines/http-api.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';
import { floorTransaction } from './floor.ts';
import { type BenchSystem, cloneTable, LAMBDA_BUNDLE, orderPayload } from './harness.ts';

export interface SyncBaseline {
  /** Base URLs: without retries, and with the saga's own Retry clauses inline. */
  urls: { noRetry: string; sagaRetries: string };
  /** The table its orders go to (a copy of Buzzer's). */
  tableName: string;
  stop(): Promise<void>;
}

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/**
 * `concurrency`: environments per variant. 32 by default, as Lambda would scale for waiting clients; the burst section
 * gives it what it gives every other function, so no case scales further than another.
 */
export async function startSyncBaseline(system: BenchSystem, concurrency = 32): Promise<SyncBaseline> {
  const tableName = await cloneTable(system, system.tableName, `${system.tableName}-BenchSync`);
  await putStock(system.runtime.clients.doc, tableName, DEMO_CATALOGUE);
  // A table DynamoDB Local has just created answers several times slower over its first few hundred writes
  // (measured while building this bench); Buzzer's table is long past that, so the copy gets there first too.
  await system.load.run({
    mode: { type: 'closed', concurrency: 8 },
    requests: Array.from({ length: 1000 }, () => floorTransaction(tableName, 'bench', orderPayload())),
    timeoutMs: 30_000,
    dynamodb: {
      endpoint: system.runtime.info.endpoints.dynamodb,
      region: DEFAULT_ACCOUNT.region,
      accessKeyId: system.runtime.clientEnvironment.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: system.runtime.clientEnvironment.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  });

  const codeDir = path.join(PROJECT_ROOT, '.buzzer', 'bench', 'sync-baseline');
  await mkdir(codeDir, { recursive: true });
  await build({
    entryPoints: [path.join(PROJECT_ROOT, 'functions', 'orders', 'place-order-sync.ts')],
    outfile: path.join(codeDir, 'index.js'),
    ...LAMBDA_BUNDLE,
    external: ['@aws-sdk/*'],
  });

  const { region, accountId } = DEFAULT_ACCOUNT;
  const arnOf = (name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  // Without retries, and with the saga's own retries of an unavailable provider (the deployed default).
  const variants = { noRetry: '0', sagaRetries: String(PAYMENT_UNAVAILABLE_RETRIES) };
  for (const [variant, retries] of Object.entries(variants)) {
    const functionName = `${system.runtime.info.stackName}-BenchSync-${variant}`;
    system.runtime.engines.lambda.register({
      logicalId: `BenchSync${variant}`,
      functionName,
      arn: arnOf(functionName),
      codeDir,
      handler: 'index.handler',
      runtime: 'nodejs24.x',
      // The request carries the whole saga: as long as an HTTP API integration may take.
      timeoutSeconds: 30,
      memoryMb: 256,
      // One environment per waiting client, as Lambda would scale it; the local default of 4 would queue them.
      reservedConcurrency: concurrency,
      environment: {
        TABLE_NAME: tableName,
        PAYMENT_PROVIDER_URL: system.sandboxUrl,
        PAYMENT_PROVIDER_AUTH: 'sigv4',
        PAYMENT_TIMEOUT_MS: '3000',
        MAIL_TRANSPORT: 'sink',
        MAIL_SINK_URL: system.sandboxUrl,
        SYNC_CHARGE_RETRIES: retries,
        POWERTOOLS_SERVICE_NAME: `bench-sync-${variant}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
  }

  const authorizerName = system.functionNamed('ApiAuthorizer');
  const integration = (variant: string) => ({
    id: variant,
    functionArn: arnOf(`${system.runtime.info.stackName}-BenchSync-${variant}`),
    payloadFormatVersion: '2.0' as const,
    timeoutMs: 30_000,
  });
  const api = await startHttpApi({
    apiLogicalId: 'BenchSyncApi',
    apiId: 'benchsync',
    name: 'bench-sync-baseline',
    routes: [
      {
        routeKey: 'POST /orders',
        integrationId: 'noRetry',
        authorizationType: 'CUSTOM',
        authorizerId: 'apiKey',
      },
      {
        routeKey: 'POST /retry/orders',
        integrationId: 'sagaRetries',
        authorizationType: 'CUSTOM',
        authorizerId: 'apiKey',
      },
    ],
    integrations: { noRetry: integration('noRetry'), sagaRetries: integration('sagaRetries') },
    // The Buzzer API's authorizer function with its settings from lib/constructs/api.ts (simple responses, 5 min cache).
    authorizers: {
      apiKey: {
        id: 'apiKey',
        name: 'ApiKeyAuthorizer',
        functionArn: arnOf(authorizerName),
        identitySource: ['$request.header.Authorization'],
        payloadFormatVersion: '2.0',
        enableSimpleResponses: true,
        resultTtlSeconds: 300,
      },
    },
    invoker: system.runtime.engines.lambda,
    port: 0,
  });
  return {
    urls: { noRetry: api.url, sagaRetries: `${api.url}/retry` },
    tableName,
    stop: () => api.stop(),
  };
}
