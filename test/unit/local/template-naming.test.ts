// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub ${...} syntax is data here, not a JS template.
import { describe, expect, it } from 'vitest';
import {
  AttributeNotReadyError,
  UnresolvableReferenceError,
  UnsupportedAttributeError,
} from '#local/template/errors.ts';
import { LocalNames, localizeUrl } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import { type CfnTemplate, DEFAULT_ACCOUNT, type LocalAccount } from '#local/types.ts';
import { fixtureEndpoints, ids, loadFixtureTemplate } from '#test/fixtures/template/fixture.ts';

const PREFIX = 'arn:aws';
const REGION_ACCOUNT = 'us-east-1:000000000000';

function setup(template: CfnTemplate = loadFixtureTemplate(), account: LocalAccount = DEFAULT_ACCOUNT) {
  const names = new LocalNames(template, account, fixtureEndpoints);
  const resolver = new TemplateResolver(template, account, names);
  return { template, names, resolver };
}

describe('LocalNames on a CDK-shaped template', () => {
  it('resolves a function environment into local names, URLs and ARNs', () => {
    // Arrange
    const { resolver } = setup();

    // Act
    const properties = resolver.resolveProperties(ids.accept);

    // Assert
    expect(properties.Environment).toEqual({
      Variables: {
        TABLE_NAME: 'Buzzer-BuzzerTable6A1B2C3D',
        EVENT_BUS_NAME: 'buzzer-bus',
        RELAY_DLQ_URL: 'http://127.0.0.1:9324/000000000000/Buzzer-NotifyDlq9F8E7D6C',
        STATE_MACHINE_ARN: `${PREFIX}:states:${REGION_ACCOUNT}:stateMachine:Buzzer-SagaStateMachine3F4A5B6C`,
        POWERTOOLS_SERVICE_NAME: 'accept',
        ALLOWED_ORIGINS: 'http://localhost:3000,http://127.0.0.1:3000',
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      },
    });
    expect(properties.Role).toBe(`${PREFIX}:iam::000000000000:role/Buzzer-AcceptFunctionServiceRole7E8F9A0B`);
    expect(properties.Runtime).toBe('nodejs22.x');
    expect(properties.Code).toEqual({
      S3Bucket: 'cdk-hnb659fds-assets-000000000000-us-east-1',
      S3Key: '1111111111111111111111111111111111111111111111111111111111111111.zip',
    });
  });

  it('uses an explicit name property, even one built with intrinsics', () => {
    const { names, resolver } = setup();

    expect(names.physicalName(ids.relay)).toBe('Buzzer-outbox-relay');
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.relay, 'Arn'] })).toBe(
      `${PREFIX}:lambda:${REGION_ACCOUNT}:function:Buzzer-outbox-relay`,
    );
    expect(resolver.resolveProperties(ids.relay).Environment).toEqual({
      Variables: {
        EVENT_BUS_NAME: 'buzzer-bus',
        RELAY_DLQ_URL: 'http://127.0.0.1:9324/000000000000/Buzzer-NotifyDlq9F8E7D6C',
        DLQ_NAME: 'Buzzer-NotifyDlq9F8E7D6C',
      },
    });
  });

  it('names queues: URL as Ref, ARN, name, and a .fifo suffix for FIFO queues', () => {
    const { resolver } = setup();

    expect(resolver.resolve({ Ref: ids.queue })).toBe(
      'http://127.0.0.1:9324/000000000000/Buzzer-NotifyQueue1A2B3C4D',
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.queue, 'QueueUrl'] })).toBe(
      'http://127.0.0.1:9324/000000000000/Buzzer-NotifyQueue1A2B3C4D',
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.queue, 'QueueName'] })).toBe('Buzzer-NotifyQueue1A2B3C4D');
    expect(resolver.resolveProperties(ids.queue).RedrivePolicy).toEqual({
      deadLetterTargetArn: `${PREFIX}:sqs:${REGION_ACCOUNT}:Buzzer-NotifyDlq9F8E7D6C`,
      maxReceiveCount: 5,
    });
    expect(resolver.resolve({ Ref: ids.fifoQueue })).toBe(
      'http://127.0.0.1:9324/000000000000/Buzzer-WebhookQueueF1F2F3F4.fifo',
    );
  });

  it('names a rule on a custom bus "bus|rule" and puts the bus in its ARN', () => {
    const { resolver } = setup();

    expect(resolver.resolve({ Ref: ids.rule })).toBe('buzzer-bus|Buzzer-NotifyRule2C3D4E5F');
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.bus, 'Arn'] })).toBe(
      `${PREFIX}:events:${REGION_ACCOUNT}:event-bus/buzzer-bus`,
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.bus, 'Name'] })).toBe('buzzer-bus');
    expect(resolver.resolveProperties(ids.queuePolicy).PolicyDocument).toMatchObject({
      Statement: [
        {
          Condition: {
            ArnEquals: {
              'aws:SourceArn': `${PREFIX}:events:${REGION_ACCOUNT}:rule/buzzer-bus/Buzzer-NotifyRule2C3D4E5F`,
            },
          },
          Resource: `${PREFIX}:sqs:${REGION_ACCOUNT}:Buzzer-NotifyQueue1A2B3C4D`,
        },
      ],
    });
  });

  it('resolves the state machine definition into ASL that names the local function ARN', () => {
    const { resolver } = setup();

    const properties = resolver.resolveProperties(ids.stateMachine);
    const definition = JSON.parse(String(properties.DefinitionString)) as {
      States: { ReserveStock: { Resource: string; Parameters: Record<string, string> } };
    };

    expect(definition.States.ReserveStock.Resource).toBe('arn:aws:states:::lambda:invoke');
    expect(definition.States.ReserveStock.Parameters.FunctionName).toBe(
      `${PREFIX}:lambda:${REGION_ACCOUNT}:function:Buzzer-SagaStepFunctionC0D1E2F3`,
    );
    expect(properties.StateMachineType).toBe('STANDARD');
    expect(properties).not.toHaveProperty('LoggingConfiguration');
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.stateMachine, 'Name'] })).toBe(
      'Buzzer-SagaStateMachine3F4A5B6C',
    );
  });

  it('drops AWS::NoValue branches from IAM policies', () => {
    const { resolver } = setup();

    const document = resolver.resolveProperties(ids.policy).PolicyDocument as {
      Statement: { Resource: unknown }[];
    };

    expect(document.Statement[0]?.Resource).toEqual([
      `${PREFIX}:dynamodb:${REGION_ACCOUNT}:table/Buzzer-BuzzerTable6A1B2C3D`,
      `${PREFIX}:dynamodb:${REGION_ACCOUNT}:table/Buzzer-BuzzerTable6A1B2C3D/index/*`,
    ]);
    expect(resolver.resolve({ Ref: ids.policy })).toMatch(/^[a-z0-9]{12}$/);
  });

  it('takes the stream ARN from the engine and refuses to guess it before', () => {
    const { names, resolver } = setup();
    const streamArn =
      'arn:aws:dynamodb:ddblocal:000000000000:table/Buzzer-BuzzerTable6A1B2C3D/stream/2026-01-01T00:00:00.000';

    const before = (() => {
      try {
        resolver.resolveProperties(ids.mapping);
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    names.setAttribute(ids.table, 'StreamArn', streamArn);
    const after = resolver.resolveProperties(ids.mapping);

    expect(before).toBeInstanceOf(AttributeNotReadyError);
    expect((before as Error).message).toBe(
      `Resources.${ids.mapping}.Properties.EventSourceArn.Fn::GetAtt: Fn::GetAtt ${ids.table}.StreamArn ` +
        '(AWS::DynamoDB::Table) is not known yet: DynamoDB Local assigns the stream ARN when it creates table ' +
        '"Buzzer-BuzzerTable6A1B2C3D"',
    );
    expect(after).toMatchObject({
      EventSourceArn: streamArn,
      FunctionName: 'Buzzer-outbox-relay',
      BatchSize: 10,
    });
  });

  it('names event source mappings with a stable UUID', () => {
    const first = setup().resolver.resolve({ Ref: ids.mapping });
    const second = setup().resolver.resolve({ 'Fn::GetAtt': [ids.mapping, 'Id'] });

    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second).toBe(first);
    expect(setup().resolver.resolve({ 'Fn::GetAtt': [ids.mapping, 'EventSourceMappingArn'] })).toBe(
      `${PREFIX}:lambda:${REGION_ACCOUNT}:event-source-mapping:${first}`,
    );
  });

  it('gives the HTTP API a stable lower-case id, a local endpoint and a local URL output', () => {
    const { resolver } = setup();

    const apiId = resolver.resolve({ Ref: ids.api });

    expect(apiId).toMatch(/^[a-z0-9]{10}$/);
    expect(setup().resolver.resolve({ 'Fn::GetAtt': [ids.api, 'ApiId'] })).toBe(apiId);
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.api, 'ApiEndpoint'] })).toBe(
      'http://127.0.0.1:3000/_api/HttpApiF5A9A8A7',
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.api, 'ExecuteApiArn'] })).toBe(
      `${PREFIX}:execute-api:${REGION_ACCOUNT}:${apiId}`,
    );
    expect(resolver.outputs()).toEqual({
      ApiUrl: 'http://127.0.0.1:3000/_api/HttpApiF5A9A8A7/',
      StateMachineArn: `${PREFIX}:states:${REGION_ACCOUNT}:stateMachine:Buzzer-SagaStateMachine3F4A5B6C`,
    });
    expect(resolver.resolveProperties(ids.permission).SourceArn).toBe(
      `${PREFIX}:execute-api:${REGION_ACCOUNT}:${apiId}/*/*/orders`,
    );
  });

  it('names the API children: stage by its name, routes and integrations by short ids', () => {
    const { resolver } = setup();

    const integrationId = resolver.resolve({ Ref: ids.integration });

    expect(resolver.resolve({ Ref: ids.stage })).toBe('$default');
    expect(integrationId).toMatch(/^[a-z0-9]{7}$/);
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.integration, 'IntegrationId'] })).toBe(integrationId);
    expect(resolver.resolveProperties(ids.route).Target).toBe(`integrations/${integrationId}`);
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.route, 'RouteId'] })).toMatch(/^[a-z0-9]{7}$/);
    expect(resolver.resolveProperties(ids.integration).IntegrationUri).toBe(
      `${PREFIX}:lambda:${REGION_ACCOUNT}:function:Buzzer-AcceptFunction5B6C7D8E`,
    );
  });

  it('names the operational resources: topic, alarm, log group, schedule', () => {
    const { resolver } = setup();

    expect(resolver.resolveProperties(ids.alarm)).toMatchObject({
      AlarmActions: [`${PREFIX}:sns:${REGION_ACCOUNT}:Buzzer-AlarmTopic1D2E3F4A`],
      Dimensions: [{ Name: 'QueueName', Value: 'Buzzer-NotifyDlq9F8E7D6C' }],
    });
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.topic, 'TopicName'] })).toBe('Buzzer-AlarmTopic1D2E3F4A');
    expect(resolver.resolve({ Ref: ids.alarm })).toBe('Buzzer-NotifyDlqDepthAlarm5A6B7C8D');
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.alarm, 'Arn'] })).toBe(
      `${PREFIX}:cloudwatch:${REGION_ACCOUNT}:alarm:Buzzer-NotifyDlqDepthAlarm5A6B7C8D`,
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.logGroup, 'Arn'] })).toBe(
      `${PREFIX}:logs:${REGION_ACCOUNT}:log-group:Buzzer-SagaLogGroup7B8C9D0E:*`,
    );
    expect(resolver.resolve({ 'Fn::GetAtt': [ids.schedule, 'Arn'] })).toBe(
      `${PREFIX}:scheduler:${REGION_ACCOUNT}:schedule/default/Buzzer-ReconcileSchedule9E0F1A2B`,
    );
    const target = resolver.resolveProperties(ids.schedule).Target as { Input: string };
    expect(JSON.parse(target.Input)).toEqual({
      table: 'Buzzer-BuzzerTable6A1B2C3D',
      region: 'us-east-1',
      arn: `${PREFIX}:dynamodb:${REGION_ACCOUNT}:table/Buzzer-BuzzerTable6A1B2C3D`,
      literal: '${NotResolved}',
    });
  });

  it('follows the local account: region, account id and stack name', () => {
    const { resolver } = setup(loadFixtureTemplate(), {
      region: 'eu-west-1',
      accountId: '123456789012',
      stackName: 'Shop',
    });

    expect(resolver.resolve({ 'Fn::GetAtt': [ids.queue, 'Arn'] })).toBe(
      'arn:aws:sqs:eu-west-1:123456789012:Shop-NotifyQueue1A2B3C4D',
    );
    expect(resolver.resolve({ Ref: ids.queue })).toBe(
      'http://127.0.0.1:9324/123456789012/Shop-NotifyQueue1A2B3C4D',
    );
    expect(resolver.resolve({ Ref: ids.relay })).toBe('Shop-outbox-relay');
  });

  it('names the type and the resource for an unknown type, and lists the known attributes of a type', () => {
    const { resolver } = setup();

    expect(() => resolver.resolve({ Ref: ids.seed })).toThrow(UnsupportedAttributeError);
    expect(() => resolver.resolve({ Ref: ids.seed })).toThrow(
      /no local naming for resource type Custom::SeedStock \(resource SeedStock6C7D8E9F\)/,
    );
    expect(() => resolver.resolve({ 'Fn::GetAtt': [ids.queue, 'Color'] })).toThrow(
      'AWS::SQS::Queue has no attribute "Color" locally (resource NotifyQueue1A2B3C4D; known: Arn, QueueName, QueueUrl)',
    );
  });

  it('lets the engine override any attribute and rejects unknown resources', () => {
    const { names, resolver } = setup();

    names.setAttribute(ids.queue, 'Arn', 'arn:aws:sqs:us-east-1:000000000000:engine-name');

    expect(resolver.resolve({ 'Fn::GetAtt': [ids.queue, 'Arn'] })).toBe(
      'arn:aws:sqs:us-east-1:000000000000:engine-name',
    );
    expect(() => names.setAttribute('Nope', 'Arn', 'x')).toThrow(UnresolvableReferenceError);
    expect(() => names.physicalName('Nope')).toThrow(UnresolvableReferenceError);
  });
});

describe('LocalNames: other resource types', () => {
  const template: CfnTemplate = {
    Resources: {
      Secret: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'buzzer/webhook-signing' } },
      Key: { Type: 'AWS::KMS::Key' },
      Alias: {
        Type: 'AWS::KMS::Alias',
        Properties: { AliasName: 'alias/buzzer', TargetKeyId: { Ref: 'Key' } },
      },
      Param: {
        Type: 'AWS::SSM::Parameter',
        Properties: { Name: '/buzzer/region', Type: 'String', Value: { Ref: 'AWS::Region' } },
      },
      Group: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: 'ops' } },
      Nightly: {
        Type: 'AWS::Scheduler::Schedule',
        Properties: { Name: 'nightly', GroupName: { Ref: 'Group' }, ScheduleExpression: 'cron(0 3 * * ? *)' },
      },
      DefaultRule: { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(1 hour)' } },
      ArnRule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Name: 'to-other',
          EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/other',
        },
      },
      Runner: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'runner', Path: '/service/' } },
      Managed: { Type: 'AWS::IAM::ManagedPolicy', Properties: { ManagedPolicyName: 'read-only' } },
      FifoTopic: { Type: 'AWS::SNS::Topic', Properties: { FifoTopic: true } },
      Subscription: {
        Type: 'AWS::SNS::Subscription',
        Properties: { TopicArn: { Ref: 'FifoTopic' }, Protocol: 'sqs', Endpoint: 'x' },
      },
      Authorizer: {
        Type: 'AWS::ApiGatewayV2::Authorizer',
        Properties: { ApiId: 'x', AuthorizerType: 'REQUEST' },
      },
      Dashboard: { Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardName: 'buzzer' } },
      Plain: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'plain' } },
      MaybeNamed: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: { 'Fn::If': ['Never', 'named', { Ref: 'AWS::NoValue' }] } },
      },
    },
    Conditions: { Never: { 'Fn::Equals': ['a', 'b'] } },
  };
  const { resolver } = setup(template);
  const value = (expression: unknown) => resolver.resolve(expression);

  it('secrets, keys, aliases and parameters', () => {
    expect(value({ Ref: 'Secret' })).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:buzzer\/webhook-signing-[A-Za-z0-9]{6}$/,
    );
    expect(value({ 'Fn::GetAtt': ['Secret', 'Id'] })).toBe(value({ Ref: 'Secret' }));
    const keyId = value({ Ref: 'Key' });
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(value({ 'Fn::GetAtt': ['Key', 'Arn'] })).toBe(`arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    expect(value({ Ref: 'Alias' })).toBe('alias/buzzer');
    expect(value({ Ref: 'Param' })).toBe('/buzzer/region');
    expect(value({ 'Fn::GetAtt': ['Param', 'Arn'] })).toBe(
      'arn:aws:ssm:us-east-1:000000000000:parameter/buzzer/region',
    );
    expect(value({ 'Fn::GetAtt': ['Param', 'Value'] })).toBe('us-east-1');
    expect(value({ 'Fn::GetAtt': ['Param', 'Type'] })).toBe('String');
  });

  it('schedules in a group, rules on the default bus and on a bus given by ARN', () => {
    expect(value({ 'Fn::GetAtt': ['Group', 'Arn'] })).toBe(
      'arn:aws:scheduler:us-east-1:000000000000:schedule-group/ops',
    );
    expect(value({ 'Fn::GetAtt': ['Nightly', 'Arn'] })).toBe(
      'arn:aws:scheduler:us-east-1:000000000000:schedule/ops/nightly',
    );
    expect(value({ Ref: 'DefaultRule' })).toBe('Buzzer-DefaultRule');
    expect(value({ 'Fn::GetAtt': ['DefaultRule', 'Arn'] })).toBe(
      'arn:aws:events:us-east-1:000000000000:rule/Buzzer-DefaultRule',
    );
    expect(value({ Ref: 'ArnRule' })).toBe('other|to-other');
    expect(value({ 'Fn::GetAtt': ['ArnRule', 'Arn'] })).toBe(
      'arn:aws:events:us-east-1:000000000000:rule/other/to-other',
    );
  });

  it('IAM paths, FIFO topics, subscriptions, authorizers and dashboards', () => {
    expect(value({ 'Fn::GetAtt': ['Runner', 'Arn'] })).toBe('arn:aws:iam::000000000000:role/service/runner');
    expect(value({ 'Fn::GetAtt': ['Runner', 'RoleId'] })).toMatch(/^AROA[A-Z0-9]{17}$/);
    expect(value({ Ref: 'Managed' })).toBe('arn:aws:iam::000000000000:policy/read-only');
    expect(value({ Ref: 'FifoTopic' })).toBe('arn:aws:sns:us-east-1:000000000000:Buzzer-FifoTopic.fifo');
    expect(value({ Ref: 'Subscription' })).toMatch(
      /^arn:aws:sns:us-east-1:000000000000:Buzzer-FifoTopic\.fifo:[0-9a-f]{8}-[0-9a-f-]{27}$/,
    );
    expect(value({ 'Fn::GetAtt': ['Authorizer', 'AuthorizerId'] })).toMatch(/^[a-z0-9]{6}$/);
    expect(value({ Ref: 'Dashboard' })).toBe('buzzer');
  });

  it('a table without a stream explains why it has no StreamArn', () => {
    expect(() => value({ 'Fn::GetAtt': ['Plain', 'StreamArn'] })).toThrow(
      'table "plain" has no StreamSpecification, so it has no stream',
    );
  });

  it('falls back to the generated name when the name property resolves to AWS::NoValue', () => {
    expect(value({ 'Fn::GetAtt': ['MaybeNamed', 'QueueName'] })).toBe('Buzzer-MaybeNamed');
  });
});

describe('localizeUrl', () => {
  const apis = new Map([['abc123defg', 'HttpApi']]);

  it('rewrites execute-api URLs of known APIs to the local gateway and keeps the path', () => {
    expect(
      localizeUrl('https://abc123defg.execute-api.us-east-1.amazonaws.com/', fixtureEndpoints, apis),
    ).toBe('http://127.0.0.1:3000/_api/HttpApi/');
    expect(
      localizeUrl(
        'see https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod/orders?x=1',
        fixtureEndpoints,
        apis,
      ),
    ).toBe('see http://127.0.0.1:3000/_api/HttpApi/prod/orders?x=1');
  });

  it('leaves other URLs alone', () => {
    const foreign = 'https://zzzzzzzzzz.execute-api.us-east-1.amazonaws.com/';

    expect(localizeUrl(foreign, fixtureEndpoints, apis)).toBe(foreign);
    expect(localizeUrl('https://example.com/hook', fixtureEndpoints, apis)).toBe('https://example.com/hook');
  });
});
