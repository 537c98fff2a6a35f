/**
 * After `cdklocal deploy`: puts the demo catalogue into the stack's table, issues API keys for the e2e clients, and
 * writes `localstack/e2e.env` so the suite runs against LocalStack with `set -a; . localstack/e2e.env; set +a`.
 * A deployed stack has no stock and no keys until someone creates them; locally `npm start` does this itself.
 *
 * Usage: tsx localstack/seed.ts <outputs.json> [stackName]   (AWS_ENDPOINT_URL points at LocalStack)
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_CLIENT_BURST_LIMIT, MAX_CLIENT_RATE_LIMIT } from '#contracts/api.ts';
import { setClientLimits, usageIdentifierOf } from '#functions/clients/limits.ts';
import { DEMO_CATALOGUE, issueApiKeys, putStock } from '#local/buzzer/seed.ts';
import { apiOfOutputs } from '#ops/cli/context.ts';
import { CLIENT_TIER } from '#ops/cli/keys.ts';
import { sdkUsagePlanKeys, usageKeyName } from '#ops/cli/usage-plans.ts';
import { DEPLOYED_TARGET_CLIENTS } from '#test/e2e/target.ts';

const E2E_CLIENTS = [...DEPLOYED_TARGET_CLIENTS];

const [outputsArg = 'localstack/outputs.json', stackName = 'Buzzer'] = process.argv.slice(2);
const outputsFile = path.resolve(outputsArg);
const allOutputs = JSON.parse(await readFile(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
const outputs = allOutputs[stackName];
if (!outputs?.TableName) {
  throw new Error(
    `${outputsFile} has no TableName output for stack ${stackName}: did the deployment finish?`,
  );
}
for (const name of ['ApiUrl', 'SandboxUrl']) {
  if (!outputs[name] || outputs[name].includes('unknown')) {
    process.stderr.write(
      `seed: output ${name} is missing or unresolved: with -c apiFlavour=http this LocalStack image needs API ` +
        'Gateway v2 (HTTP APIs), which the free image lacks; deploy.sh deploys the REST flavour (see README, ' +
        '"Running on LocalStack")\n',
    );
  }
}

const client = new DynamoDBClient({});
const doc = DynamoDBDocumentClient.from(client);
await putStock(doc, outputs.TableName, DEMO_CATALOGUE);
// The REST flavour: each client's API Gateway key (its usage identifier) on the standard usage plan, before its first
// request, else API Gateway refuses the authorizer's usageIdentifierKey with 403.
const api = apiOfOutputs(outputs, `stack ${stackName}`);
if (api.apiFlavour === 'rest') {
  const usagePlanId = api.usagePlanIds?.[CLIENT_TIER];
  if (!usagePlanId) throw new Error(`${outputsFile}: no ${CLIENT_TIER} usage plan in ClientUsagePlans`);
  const usageKeys = sdkUsagePlanKeys({ region: process.env.AWS_REGION ?? 'us-east-1' });
  try {
    for (const clientId of E2E_CLIENTS) {
      await usageKeys.attach({
        name: usageKeyName(stackName, clientId),
        value: usageIdentifierOf(clientId),
        usagePlanId,
      });
    }
  } finally {
    usageKeys.close();
  }
}
const keys = await issueApiKeys(doc, outputs.TableName, E2E_CLIENTS);
// As on the local target (test/e2e/target.ts): the scenarios' clients poll over the default per-client rate.
for (const clientId of E2E_CLIENTS) {
  await setClientLimits({ doc, tableName: outputs.TableName }, clientId, {
    rateLimit: MAX_CLIENT_RATE_LIMIT,
    burstLimit: MAX_CLIENT_BURST_LIMIT,
  });
}
client.destroy();

const env = {
  BUZZER_TARGET: 'localstack',
  BUZZER_OUTPUTS_FILE: outputsFile,
  BUZZER_API_KEYS: Object.entries(keys)
    .map(([clientId, key]) => `${clientId}=${key}`)
    .join(','),
  AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? 'http://localhost.localstack.cloud:4566',
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
};
const envFile = path.join(path.dirname(outputsFile), 'e2e.env');
await writeFile(
  envFile,
  `${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`,
  { mode: 0o600 },
);
process.stdout.write(
  `seed: catalogue and API keys for ${E2E_CLIENTS.join(', ')} in ${outputs.TableName}\n` +
    `seed: run the e2e suite against LocalStack with:\n  set -a; . ${path.relative(process.cwd(), envFile)}; set +a; npm run test:e2e\n`,
);
