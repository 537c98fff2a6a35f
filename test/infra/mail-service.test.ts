import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeploymentConfigError, validateDeployment } from '#lib/buzzer-stack.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

let burst: SynthResult;
let resources: Resources;

beforeAll(() => {
  // Without bundling (stack.test.ts bundles every handler once; the sender and the campaign are bundled by
  // table-access.test.ts's code scan and by the e2e synth).
  burst = synthBuzzer({
    mailService: 'burst',
    mailCircuit: { failureThreshold: 3, openInterval: Duration.seconds(10) },
  });
  resources = burst.template.toJSON().Resources as Resources;
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  burst.stack.getLogicalId(construct.node.defaultChild as never);
const mail = () => {
  if (!burst.stack.mailService) throw new Error('mailService=burst deployed no mail service');
  return burst.stack.mailService;
};
const envOf = (id: string) =>
  (resources[id]?.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
  {};
const functionsWithService = (service: string) =>
  Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::Lambda::Function' && envOf(id).POWERTOOLS_SERVICE_NAME === service,
  );

describe('mailService context key', () => {
  it('is notify by default and refuses an unknown value with the choices', () => {
    expect(validateDeployment({ sandbox: true }).mailService).toBe('notify');
    expect(validateDeployment({ sandbox: true, mailService: 'burst' }).mailService).toBe('burst');
    expect(() => validateDeployment({ sandbox: true, mailService: 'bursty' as never })).toThrow(
      DeploymentConfigError,
    );
    expect(() => validateDeployment({ sandbox: true, mailService: 'bursty' as never })).toThrow(
      /mailService must be "notify" or "burst".*got "bursty"/,
    );
  });
});

describe('the burst mail service (mailService=burst)', () => {
  it('does not deploy the notify worker', () => {
    expect(burst.stack.notifier).toBeUndefined();
    expect(functionsWithService('notify-worker')).toEqual([]);
    expect(Object.keys(resources).some((id) => id.startsWith('Notifier'))).toBe(false);
  });

  it('feeds the mail request queue from the order events, with a DLQ for both', () => {
    const queue = logicalId(mail().sender.queue.queue);
    const dlq = logicalId(mail().sender.queue.deadLetterQueue);
    expect(resources[queue]?.Properties.RedrivePolicy).toMatchObject({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
      maxReceiveCount: 5,
    });
    burst.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['OrderConfirmed', 'OrderCancelled'] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        }),
      ],
    });
  });

  it('drains both lanes into the one sender, in large batches with a batching window and partial batch responses', () => {
    for (const lane of [mail().sender.queue, mail().bulkQueue]) {
      burst.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalId(lane.queue), 'Arn'] },
        FunctionName: { Ref: logicalId(mail().sender.handler.function) },
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 2 },
      });
      // Six times the function's timeout: a batch still sending is not delivered again.
      expect(resources[logicalId(lane.queue)]?.Properties.VisibilityTimeout).toBe(540);
      expect(resources[logicalId(lane.queue)]?.Properties.RedrivePolicy).toMatchObject({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(lane.deadLetterQueue), 'Arn'] },
      });
    }
  });

  it('keeps sent mail in a table of its own, keyed by recipient and send time', () => {
    const table = resources[logicalId(mail().sentMail)];
    expect(table?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'recipient', KeyType: 'HASH' },
        { AttributeName: 'sentAt', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table?.Properties.StreamSpecification).toBeUndefined();
    expect(envOf(logicalId(mail().sender.handler.function))).toMatchObject({
      SENT_MAIL_TABLE_NAME: { Ref: logicalId(mail().sentMail) },
      MAIL_TRANSPORT: 'sink',
      MAIL_SEND_CONCURRENCY: '8',
      MAIL_CIRCUIT_FAILURE_THRESHOLD: '3',
      MAIL_CIRCUIT_OPEN_SECONDS: '10',
    });
  });

  it('lets the sender put sent mail and nothing else on that table, and send to the sink', () => {
    const statements = (role: { node: { defaultChild?: unknown } }) =>
      Object.values(burst.template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: logicalId(role) }]))
        .flatMap(
          (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>,
        );
    const onSentMail = (role: { node: { defaultChild?: unknown } }) =>
      statements(role).filter((s) => JSON.stringify(s.Resource).includes(logicalId(mail().sentMail)));
    expect(onSentMail(mail().sender.handler.role).map((s) => s.Action)).toEqual(['dynamodb:PutItem']);
    expect(onSentMail(mail().campaign.role)).toEqual([]);
    expect(JSON.stringify(statements(mail().sender.handler.role))).toContain('execute-api:Invoke');
  });

  it("lets the campaign function send to the bulk lane (never the order mails' lane) and touch no table", () => {
    const campaign = logicalId(mail().campaign.function);
    expect(envOf(campaign)).toMatchObject({
      MAIL_REQUEST_QUEUE_URL: { Ref: logicalId(mail().bulkQueue.queue) },
    });
    expect(envOf(campaign).TABLE_NAME).toBeUndefined();
    burst.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(mail().campaign.role) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Resource: { 'Fn::GetAtt': [logicalId(mail().bulkQueue.queue), 'Arn'] },
          }),
        ]),
      },
    });
    expect(
      JSON.stringify(burst.template.findResources('AWS::IAM::Policy')).includes(
        JSON.stringify({ Ref: logicalId(mail().campaign.role) }),
      ),
    ).toBe(true);
    const policies = JSON.stringify(
      Object.values(burst.template.findResources('AWS::IAM::Policy')).filter(
        (p) =>
          JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: logicalId(mail().campaign.role) }]),
      ),
    );
    expect(policies).not.toContain('dynamodb:');
    burst.template.hasOutput('MailCampaignFunctionName', { Value: { Ref: campaign } });
  });

  it('names the lanes\' DLQs "mail" and "mail-bulk" for the operator CLI', () => {
    expect(burst.stack.operations.deadLetterQueues.map((q) => q.alias)).toEqual(
      expect.arrayContaining(['mail', 'mail-bulk']),
    );
    expect(burst.stack.operations.deadLetterQueues.map((q) => q.alias)).not.toContain('notify');
  });

  it('passes cdk-nag AwsSolutions', () => {
    expect(
      burst.nag.violations.map((v) => `${v.ruleName} @ ${v.violatingConstructs[0]?.constructPath}`),
    ).toEqual([]);
    for (const v of burst.nag.suppressedViolations) expect(v.reason.length, v.ruleName).toBeGreaterThan(30);
  });
});
