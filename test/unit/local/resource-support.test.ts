import { describe, expect, it } from 'vitest';
import {
  classifyResources,
  formatClassification,
  RESOURCE_SUPPORT,
  supportOf,
  supportTableMarkdown,
} from '#local/resources/support.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';
import { ids, loadFixtureTemplate } from '#test/fixtures/template/fixture.ts';

describe('classifyResources', () => {
  it('sorts the included resources of a CDK-shaped template into supported, ignored and unsupported', () => {
    // Arrange
    const template = loadFixtureTemplate();

    // Act
    const result = classifyResources(template);

    // Assert
    expect(result.supported).toEqual({
      'AWS::DynamoDB::Table': [ids.table],
      'AWS::SQS::Queue': [ids.dlq, ids.queue, ids.fifoQueue],
      'AWS::Events::EventBus': [ids.bus],
      'AWS::Events::Rule': [ids.rule],
      'AWS::Lambda::Function': [ids.accept, ids.relay, ids.sagaStep],
      'AWS::Lambda::EventSourceMapping': [ids.mapping],
      'AWS::StepFunctions::StateMachine': [ids.stateMachine],
      'AWS::ApiGatewayV2::Api': [ids.api],
      'AWS::ApiGatewayV2::Stage': [ids.stage],
      'AWS::ApiGatewayV2::Integration': [ids.integration],
      'AWS::ApiGatewayV2::Route': [ids.route],
      'AWS::Scheduler::Schedule': [ids.schedule],
    });
    expect(Object.keys(result.ignored)).toEqual([
      'AWS::SQS::QueuePolicy',
      'AWS::IAM::Role',
      'AWS::IAM::Policy',
      'AWS::Logs::LogGroup',
      'AWS::Lambda::Permission',
      'AWS::SNS::Topic',
      'AWS::CloudWatch::Alarm',
      'AWS::CDK::Metadata',
    ]);
    expect(result.ignored['AWS::IAM::Role']).toEqual({
      ids: [ids.role],
      reason: 'local engines do not enforce IAM: every call is allowed',
    });
    expect(result.unsupported).toEqual({ 'Custom::SeedStock': [ids.seed] });
  });

  it('leaves out resources whose condition is false in the local account', () => {
    const result = classifyResources(loadFixtureTemplate(), { ...DEFAULT_ACCOUNT, region: 'cn-north-1' });

    expect(result.ignored).not.toHaveProperty('AWS::CDK::Metadata');
    expect(result.supported['AWS::SQS::Queue']).not.toContain(ids.expressQueue);
  });
});

describe('the support table', () => {
  it('lists each type once, with a reason or engine for every entry', () => {
    const types = RESOURCE_SUPPORT.map((entry) => entry.type);

    expect(new Set(types).size).toBe(types.length);
    for (const entry of RESOURCE_SUPPORT) expect(entry.note.length).toBeGreaterThan(10);
    expect(supportOf('AWS::SQS::Queue')?.level).toBe('supported');
    expect(supportOf('AWS::IAM::Role')?.level).toBe('ignored');
    expect(supportOf('AWS::EC2::VPC')).toBeUndefined();
  });

  it('renders as a Markdown table for the README', () => {
    const markdown = supportTableMarkdown().split('\n');

    expect(markdown[0]).toBe('| resource type | locally | how / why |');
    expect(markdown).toHaveLength(RESOURCE_SUPPORT.length + 2);
    expect(markdown).toContain(
      '| `AWS::DynamoDB::Table` | supported | DynamoDB Local (streams, TTL, GSIs, transactions) |',
    );
  });

  it('summarises a classification for the start-up log, calling out what is missing', () => {
    const text = formatClassification(classifyResources(loadFixtureTemplate()));

    expect(text).toContain('  run      AWS::SQS::Queue x3: local-aws-sqs');
    expect(text).toContain('  ignore   AWS::IAM::Role x1: local engines do not enforce IAM');
    expect(text).toContain(`  MISSING  Custom::SeedStock x1: not supported locally (${ids.seed})`);
  });
});
