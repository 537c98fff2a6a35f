import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BuzzerStack } from '#lib/buzzer-stack.ts';

const app = new App();

/** A context value arrives as a string from `-c key=value` and as a number from cdk.json. */
function optionalNumber(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new Error(`context value ${String(value)} must be a whole number`);
  return parsed;
}

new BuzzerStack(app, app.node.tryGetContext('stackName') ?? 'Buzzer', {
  workflowType: app.node.tryGetContext('workflowType') ?? process.env.BUZZER_WORKFLOW_TYPE ?? 'STANDARD',
  mailTransport: app.node.tryGetContext('mailTransport') ?? 'sink',
  mailFrom: app.node.tryGetContext('mailFrom'),
  paymentProviderUrl: app.node.tryGetContext('paymentProviderUrl'),
  orderRetentionDays: optionalNumber(app.node.tryGetContext('orderRetentionDays')),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
