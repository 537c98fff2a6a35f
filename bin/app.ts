import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ensureConsoleBuilt } from '#console/server/build.ts';
import { backPressureFromContext } from '#lib/back-pressure.ts';
import { BuzzerStack, DeploymentConfigError } from '#lib/buzzer-stack.ts';
import { parseSettlementPartners } from '#lib/constructs/settlement-export.ts';

const app = new App();

/** A context value arrives as a string from `-c key=value` and as a number from cdk.json. */
function optionalNumber(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed))
    throw new DeploymentConfigError(`Buzzer: context value ${String(value)} must be a whole number`);
  return parsed;
}

/** A number that may have decimals (a rate of 0.5 a second); the stack checks its range. */
function optionalDecimal(name: string): number | undefined {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value === '' || !Number.isFinite(parsed))
    throw new DeploymentConfigError(`Buzzer: -c ${name} must be a number, got "${String(value)}"`);
  return parsed;
}

/** `-c sandbox=true` arrives as a string, a cdk.json entry as a boolean; anything else is a typo to report. */
function flag(name: string): boolean {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new DeploymentConfigError(`Buzzer: -c ${name} must be true or false, got "${String(value)}"`);
}

try {
  // The web console's static site ships the current bundle: built here when missing or stale (-c consoleSite=false
  // leaves the site out; the operator API is deployed either way). Progress goes to stdout: stderr carries only the
  // app's errors, which a bad context key must be alone on (test/infra/back-pressure.test.ts).
  const operatorApi = app.node.tryGetContext('operatorApi') === undefined || flag('operatorApi');
  const consoleSite =
    operatorApi && (app.node.tryGetContext('consoleSite') === undefined || flag('consoleSite'));
  const consoleDist = consoleSite
    ? await ensureConsoleBuilt((message) => process.stdout.write(`${message}\n`))
    : undefined;
  new BuzzerStack(app, app.node.tryGetContext('stackName') ?? 'Buzzer', {
    workflowType: app.node.tryGetContext('workflowType') ?? process.env.BUZZER_WORKFLOW_TYPE ?? 'STANDARD',
    sandbox: flag('sandbox'),
    paymentProviderUrl: app.node.tryGetContext('paymentProviderUrl'),
    paymentProviderSecretArn: app.node.tryGetContext('paymentProviderSecretArn'),
    mailTransport: app.node.tryGetContext('mailTransport'),
    mailFrom: app.node.tryGetContext('mailFrom'),
    mailService: app.node.tryGetContext('mailService'),
    // -c orderFlow=sync: POST /orders served within the request (PlaceOrderSync); the stack refuses other values.
    orderFlow: app.node.tryGetContext('orderFlow'),
    orderRetentionDays: optionalNumber(app.node.tryGetContext('orderRetentionDays')),
    // -c consumerMaxConcurrency=notify=3,saga-start=4 -c queueMaxAgeSeconds=notify=600 (lib/back-pressure.ts)
    backPressure: backPressureFromContext((key) => app.node.tryGetContext(key)),
    apiFlavour: app.node.tryGetContext('apiFlavour') ?? process.env.BUZZER_API_FLAVOUR,
    clientRateLimit: optionalDecimal('clientRateLimit'),
    clientBurstLimit: optionalDecimal('clientBurstLimit'),
    clientDailyQuota: optionalDecimal('clientDailyQuota'),
    // -c settlementPartners=acquirer:csv,accountant:jsonl:/inbox -c settlementTimeZone=Europe/Paris
    settlementPartners:
      app.node.tryGetContext('settlementPartners') === undefined
        ? undefined
        : parseSettlementPartners(String(app.node.tryGetContext('settlementPartners'))),
    settlementTimeZone: app.node.tryGetContext('settlementTimeZone'),
    consoleDist,
    operatorApi,
    operatorSignInDomain: app.node.tryGetContext('operatorSignInDomain'),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (error) {
  // A configuration mistake is the operator's to fix: the message alone, not a stack trace through the CDK.
  if (!(error instanceof DeploymentConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
