import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BuzzerStack } from '#lib/buzzer-stack.ts';

const app = new App();
new BuzzerStack(app, app.node.tryGetContext('stackName') ?? 'Buzzer', {
  workflowType: app.node.tryGetContext('workflowType') ?? process.env.BUZZER_WORKFLOW_TYPE ?? 'STANDARD',
  mailTransport: app.node.tryGetContext('mailTransport') ?? 'sink',
  mailFrom: app.node.tryGetContext('mailFrom'),
  paymentProviderUrl: app.node.tryGetContext('paymentProviderUrl'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
