// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub ${...} syntax is data here, not a JS template.
import { describe, expect, it } from 'vitest';
import {
  IntrinsicFunctionError,
  type TemplateError,
  UnresolvableReferenceError,
  UnsupportedAttributeError,
} from '#local/template/errors.ts';
import { type AttributeProvider, TemplateResolver } from '#local/template/resolve.ts';
import type { CfnResource, CfnTemplate, LocalAccount } from '#local/types.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';

/** Answers `Ref` / `Fn::GetAtt` with recognisable strings, so tests see exactly what was asked. */
const echo: AttributeProvider = {
  ref: (logicalId) => `ref(${logicalId})`,
  getAtt: (logicalId, _resource, attribute) => `att(${logicalId}.${attribute})`,
};

const queue: CfnResource = { Type: 'AWS::SQS::Queue' };

function resolverFor(
  template: Partial<CfnTemplate>,
  options: {
    account?: LocalAccount;
    attributes?: AttributeProvider;
    parameters?: Record<string, unknown>;
  } = {},
): TemplateResolver {
  return new TemplateResolver(
    { Resources: { Queue: queue }, ...template },
    options.account ?? DEFAULT_ACCOUNT,
    options.attributes ?? echo,
    { parameters: options.parameters },
  );
}

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, but the call returned');
}

describe('TemplateResolver: Ref', () => {
  it('resolves every pseudo parameter from the local account', () => {
    // Arrange
    const resolver = resolverFor(
      {},
      { account: { region: 'eu-west-1', accountId: '123456789012', stackName: 'Shop' } },
    );
    const pseudo = (name: string) => resolver.resolve({ Ref: `AWS::${name}` });

    // Act / Assert
    expect(pseudo('Region')).toBe('eu-west-1');
    expect(pseudo('AccountId')).toBe('123456789012');
    expect(pseudo('StackName')).toBe('Shop');
    expect(pseudo('StackId')).toMatch(
      /^arn:aws:cloudformation:eu-west-1:123456789012:stack\/Shop\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(pseudo('Partition')).toBe('aws');
    expect(pseudo('URLSuffix')).toBe('amazonaws.com');
    expect(pseudo('NotificationARNs')).toEqual([]);
    expect(pseudo('NoValue')).toBeUndefined();
  });

  it('gives the same StackId every time, so restarts keep identifiers stable', () => {
    const first = resolverFor({}).resolve({ Ref: 'AWS::StackId' });
    const second = resolverFor({}).resolve({ Ref: 'AWS::StackId' });

    expect(first).toBe(second);
  });

  it('rejects unknown pseudo parameters', () => {
    const error = thrown(() => resolverFor({}).resolve({ Ref: 'AWS::Moon' }, 'Outputs.X.Value'));

    expect(error).toBeInstanceOf(UnresolvableReferenceError);
    expect(error.message).toBe('Outputs.X.Value.Ref: unknown pseudo parameter "AWS::Moon"');
  });

  it('resolves parameters from their Default, splitting list types, and lets supplied values win', () => {
    const resolver = resolverFor(
      {
        Parameters: {
          Stage: { Type: 'String', Default: 'dev' },
          Size: { Type: 'Number', Default: 3 },
          Origins: { Type: 'CommaDelimitedList', Default: 'a.test, b.test' },
          Overridden: { Type: 'String', Default: 'default' },
        },
      },
      { parameters: { Overridden: 'supplied' } },
    );

    expect(resolver.resolve({ Ref: 'Stage' })).toBe('dev');
    expect(resolver.resolve({ Ref: 'Size' })).toBe('3');
    expect(resolver.resolve({ Ref: 'Origins' })).toEqual(['a.test', 'b.test']);
    expect(resolver.resolve({ Ref: 'Overridden' })).toBe('supplied');
  });

  it('refuses parameters it cannot know: no Default, or a value CloudFormation would read from SSM', () => {
    const resolver = resolverFor({
      Parameters: {
        Required: { Type: 'String' },
        BootstrapVersion: {
          Type: 'AWS::SSM::Parameter::Value<String>',
          Default: '/cdk-bootstrap/hnb659fds/version',
        },
      },
    });

    expect(() => resolver.resolve({ Ref: 'Required' }, 'P')).toThrow(/parameter "Required" has no Default/);
    expect(() => resolver.resolve({ Ref: 'BootstrapVersion' }, 'P')).toThrow(/takes its value from SSM/);
  });

  it('asks the attribute provider for resources', () => {
    expect(resolverFor({}).resolve({ Ref: 'Queue' })).toBe('ref(Queue)');
  });

  it('names the missing thing and the template path for an unknown Ref', () => {
    const error = thrown(() =>
      resolverFor({}).resolve(
        { Variables: { URL: { Ref: 'Missing' } } },
        'Resources.Fn.Properties.Environment',
      ),
    );

    expect(error).toBeInstanceOf(UnresolvableReferenceError);
    expect(error.message).toBe(
      'Resources.Fn.Properties.Environment.Variables.URL.Ref: Ref to "Missing" names no resource, parameter or pseudo parameter',
    );
  });

  it('does not mistake Object.prototype members for template names', () => {
    expect(() => resolverFor({}).resolve({ Ref: 'constructor' })).toThrow(UnresolvableReferenceError);
    expect(() => resolverFor({}).resolve({ 'Fn::GetAtt': ['toString', 'Arn'] })).toThrow(
      UnresolvableReferenceError,
    );
  });
});

describe('TemplateResolver: AWS::NoValue', () => {
  it('removes the key from objects and the element from arrays', () => {
    const resolved = resolverFor({}).resolve({
      Kept: 'yes',
      Removed: { Ref: 'AWS::NoValue' },
      List: ['a', { Ref: 'AWS::NoValue' }, 'b'],
      Nested: { Deep: { Ref: 'AWS::NoValue' } },
    });

    expect(resolved).toEqual({ Kept: 'yes', List: ['a', 'b'], Nested: {} });
  });
});

describe('TemplateResolver: Fn::GetAtt', () => {
  it('accepts the array form, the "A.B" string form and dotted attribute names', () => {
    const resolver = resolverFor({ Parameters: { Attr: { Type: 'String', Default: 'QueueName' } } });

    expect(resolver.resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] })).toBe('att(Queue.Arn)');
    expect(resolver.resolve({ 'Fn::GetAtt': 'Queue.Arn' })).toBe('att(Queue.Arn)');
    expect(resolver.resolve({ 'Fn::GetAtt': 'Queue.Endpoint.Address' })).toBe('att(Queue.Endpoint.Address)');
    expect(resolver.resolve({ 'Fn::GetAtt': ['Queue', { Ref: 'Attr' }] })).toBe('att(Queue.QueueName)');
  });

  it('rejects malformed arguments', () => {
    const resolver = resolverFor({});

    expect(() => resolver.resolve({ 'Fn::GetAtt': 'QueueWithoutAttribute' })).toThrow(IntrinsicFunctionError);
    expect(() => resolver.resolve({ 'Fn::GetAtt': ['Queue'] })).toThrow(IntrinsicFunctionError);
  });

  it('adds the template path to errors raised by the attribute provider and keeps their class', () => {
    const resolver = resolverFor(
      {},
      {
        attributes: {
          ref: () => 'unused',
          getAtt: () => {
            throw new UnsupportedAttributeError('AWS::SQS::Queue has no attribute "Color"');
          },
        },
      },
    );

    const error = thrown(() =>
      resolver.resolve({ 'Fn::GetAtt': ['Queue', 'Color'] }, 'Resources.Rule.Properties.Targets'),
    );

    expect(error).toBeInstanceOf(UnsupportedAttributeError);
    expect((error as TemplateError).path).toBe('Resources.Rule.Properties.Targets.Fn::GetAtt');
    expect(error.message).toBe(
      'Resources.Rule.Properties.Targets.Fn::GetAtt: AWS::SQS::Queue has no attribute "Color"',
    );
  });
});

describe('TemplateResolver: string functions', () => {
  it('Fn::Join joins resolved parts, including lists produced by other intrinsics and numbers', () => {
    const resolver = resolverFor({});

    expect(
      resolver.resolve({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:', { Ref: 'AWS::Region' }, ':', 42]],
      }),
    ).toBe('arn:aws:sqs:us-east-1:42');
    expect(resolver.resolve({ 'Fn::Join': ['-', { 'Fn::Split': [',', 'a,b,c'] }] })).toBe('a-b-c');
    expect(resolver.resolve({ 'Fn::Join': [',', ['a', { Ref: 'AWS::NoValue' }, 'b']] })).toBe('a,b');
  });

  it('Fn::Join refuses to join objects', () => {
    expect(() => resolverFor({}).resolve({ 'Fn::Join': ['', ['a', { nested: true }]] }, 'X')).toThrow(
      'X.Fn::Join: Fn::Join can only join strings, but element 1 is {"nested":true}',
    );
  });

  it('Fn::Sub substitutes pseudo parameters, resources, attributes and keeps ${!Literal} literal', () => {
    const resolved = resolverFor({}).resolve({
      'Fn::Sub': 'cdk-assets-${AWS::AccountId}-${AWS::Region}/${Queue}/${Queue.Arn}/${!Literal}/${ Queue }',
    });

    expect(resolved).toBe(
      'cdk-assets-000000000000-us-east-1/ref(Queue)/att(Queue.Arn)/${Literal}/ref(Queue)',
    );
  });

  it('Fn::Sub with variables prefers the variables, which may themselves be intrinsics', () => {
    const resolved = resolverFor({}).resolve({
      'Fn::Sub': [
        '${Queue}|${Name}|${AWS::Region}',
        { Queue: 'shadowed', Name: { 'Fn::GetAtt': ['Queue', 'QueueName'] } },
      ],
    });

    expect(resolved).toBe('shadowed|att(Queue.QueueName)|us-east-1');
  });

  it('Fn::Sub only resolves variables the string uses', () => {
    const resolved = resolverFor({}).resolve({ 'Fn::Sub': ['plain', { Unused: { Ref: 'Missing' } }] });

    expect(resolved).toBe('plain');
  });

  it('Fn::Sub reports unknown names with the path', () => {
    expect(() => resolverFor({}).resolve({ 'Fn::Sub': 'x-${Nope}' }, 'Outputs.O.Value')).toThrow(
      'Outputs.O.Value.Fn::Sub: Ref to "Nope" names no resource, parameter or pseudo parameter',
    );
  });

  it('Fn::Select picks by number or numeric string and rejects indexes out of range', () => {
    const resolver = resolverFor({});
    const arn = 'arn:aws:sqs:us-east-1:000000000000:Buzzer-Queue';

    expect(resolver.resolve({ 'Fn::Select': [5, { 'Fn::Split': [':', arn] }] })).toBe('Buzzer-Queue');
    expect(resolver.resolve({ 'Fn::Select': ['1', ['a', 'b']] })).toBe('b');
    expect(() => resolver.resolve({ 'Fn::Select': [2, ['a', 'b']] })).toThrow(/index 2 is out of range/);
    expect(() => resolver.resolve({ 'Fn::Select': [-1, ['a']] })).toThrow(/non-negative integer/);
  });

  it('Fn::Split splits a resolved string', () => {
    expect(resolverFor({}).resolve({ 'Fn::Split': ['/', { 'Fn::Sub': 'a/${AWS::Region}/c' }] })).toEqual([
      'a',
      'us-east-1',
      'c',
    ]);
  });

  it('Fn::Base64, Fn::GetAZs, Fn::Length and Fn::ToJsonString', () => {
    const resolver = resolverFor({});

    expect(resolver.resolve({ 'Fn::Base64': { 'Fn::Sub': '#!/bin/sh ${AWS::Region}' } })).toBe(
      Buffer.from('#!/bin/sh us-east-1').toString('base64'),
    );
    expect(resolver.resolve({ 'Fn::GetAZs': '' })).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(resolver.resolve({ 'Fn::GetAZs': { Ref: 'AWS::Region' } })).toEqual([
      'us-east-1a',
      'us-east-1b',
      'us-east-1c',
    ]);
    expect(resolver.resolve({ 'Fn::Select': [0, { 'Fn::GetAZs': 'eu-west-1' }] })).toBe('eu-west-1a');
    expect(resolver.resolve({ 'Fn::Length': ['a', { Ref: 'AWS::NoValue' }, 'b'] })).toBe(2);
    expect(resolver.resolve({ 'Fn::ToJsonString': { queue: { Ref: 'Queue' } } })).toBe(
      '{"queue":"ref(Queue)"}',
    );
  });

  it('Fn::FindInMap looks up mappings with resolved keys and honours DefaultValue', () => {
    const resolver = resolverFor({ Mappings: { Runtime: { 'us-east-1': { value: 'nodejs22.x' } } } });

    expect(resolver.resolve({ 'Fn::FindInMap': ['Runtime', { Ref: 'AWS::Region' }, 'value'] })).toBe(
      'nodejs22.x',
    );
    expect(
      resolver.resolve({ 'Fn::FindInMap': ['Runtime', 'eu-west-9', 'value', { DefaultValue: 'fallback' }] }),
    ).toBe('fallback');
    expect(() => resolver.resolve({ 'Fn::FindInMap': ['Runtime', 'eu-west-9', 'value'] })).toThrow(
      'Fn::FindInMap found no value at Runtime > eu-west-9 > value',
    );
  });
});

describe('TemplateResolver: conditions', () => {
  // Declared apart so the output's `Condition` (valid CloudFormation, absent from CfnTemplate) type-checks.
  const outputs = {
    Always: { Value: { Ref: 'Queue' } },
    OnlyExpress: { Value: { Ref: 'ExpressQueue' }, Condition: 'IsExpress' },
  };
  const template: Partial<CfnTemplate> = {
    Parameters: { Mode: { Type: 'String', Default: 'STANDARD' } },
    Conditions: {
      IsExpress: { 'Fn::Equals': [{ Ref: 'Mode' }, 'EXPRESS'] },
      IsStandard: { 'Fn::Not': [{ Condition: 'IsExpress' }] },
      InUsEast: { 'Fn::Equals': ['us-east-1', { Ref: 'AWS::Region' }] },
      Both: { 'Fn::And': [{ Condition: 'IsStandard' }, { Condition: 'InUsEast' }] },
      Either: { 'Fn::Or': [{ Condition: 'IsExpress' }, { 'Fn::Equals': ['1', 1] }] },
      Neither: { 'Fn::Or': [{ Condition: 'IsExpress' }, { 'Fn::Not': [{ Condition: 'InUsEast' }] }] },
      Loop: { 'Fn::Not': [{ Condition: 'Loop' }] },
      TooFew: { 'Fn::And': [{ Condition: 'InUsEast' }] },
      NotBoolean: { Ref: 'Mode' },
    },
    Resources: {
      Queue: queue,
      ExpressQueue: { Type: 'AWS::SQS::Queue', Condition: 'IsExpress' },
    },
    Outputs: outputs,
  };

  it('evaluates Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition references', () => {
    const resolver = resolverFor(template);

    expect(resolver.conditionHolds('IsExpress')).toBe(false);
    expect(resolver.conditionHolds('IsStandard')).toBe(true);
    expect(resolver.conditionHolds('Both')).toBe(true);
    expect(resolver.conditionHolds('Either')).toBe(true);
    expect(resolver.conditionHolds('Neither')).toBe(false);
  });

  it('follows supplied parameter values', () => {
    const resolver = resolverFor(template, { parameters: { Mode: 'EXPRESS' } });

    expect(resolver.conditionHolds('IsExpress')).toBe(true);
    expect(resolver.resourceIncluded('ExpressQueue')).toBe(true);
  });

  it('rejects unknown, self-referencing, malformed and non-boolean conditions', () => {
    const resolver = resolverFor(template);

    expect(() => resolver.conditionHolds('Missing')).toThrow('the template defines no condition "Missing"');
    expect(() => resolver.conditionHolds('Loop')).toThrow(/condition "Loop" refers to itself/);
    expect(() => resolver.conditionHolds('TooFew')).toThrow(/Fn::And expects 2 to 10 conditions/);
    expect(() => resolver.conditionHolds('NotBoolean')).toThrow(
      /must evaluate to true or false, got "STANDARD"/,
    );
  });

  it('excludes resources whose condition is false and refuses references to them', () => {
    const resolver = resolverFor(template);

    expect(resolver.resourceIncluded('Queue')).toBe(true);
    expect(resolver.resourceIncluded('ExpressQueue')).toBe(false);
    expect(resolver.resourceIncluded('NotInTemplate')).toBe(false);
    expect(resolver.includedResources()).toEqual(['Queue']);
    expect(() => resolver.resolve({ Ref: 'ExpressQueue' }, 'P')).toThrow(
      'P.Ref: Ref to "ExpressQueue", which is excluded because its condition "IsExpress" is false',
    );
  });

  it('Fn::If resolves only the chosen branch, and can remove the value with AWS::NoValue', () => {
    const resolver = resolverFor(template);

    expect(resolver.resolve({ 'Fn::If': ['IsStandard', 'STANDARD', 'EXPRESS'] })).toBe('STANDARD');
    expect(
      resolver.resolve({
        Url: { 'Fn::If': ['IsExpress', { Ref: 'ExpressQueue' }, { Ref: 'AWS::NoValue' }] },
      }),
    ).toEqual({});
  });

  it('Fn::Equals used as a value resolves to a boolean', () => {
    expect(resolverFor(template).resolve({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] })).toBe(true);
  });

  it('resolves only the outputs whose condition holds', () => {
    expect(resolverFor(template).outputs()).toEqual({ Always: 'ref(Queue)' });
  });
});

describe('TemplateResolver: unsupported intrinsics', () => {
  it('explains that Fn::ImportValue needs another stack', () => {
    const error = thrown(() =>
      resolverFor({}).resolve(
        { TableName: { 'Fn::ImportValue': 'Shared-TableName' } },
        'Resources.Fn.Properties',
      ),
    );

    expect(error).toBeInstanceOf(IntrinsicFunctionError);
    expect(error.message).toMatch(
      /^Resources\.Fn\.Properties\.TableName\.Fn::ImportValue: Fn::ImportValue "Shared-TableName"/,
    );
    expect(error.message).toContain('runs one stack');
  });

  it('names an unknown function and where it was found', () => {
    const error = thrown(() =>
      resolverFor({}).resolve(
        { CidrBlock: { 'Fn::Cidr': ['10.0.0.0/16', 6, 5] } },
        'Resources.Vpc.Properties',
      ),
    );

    expect(error).toBeInstanceOf(IntrinsicFunctionError);
    expect(error.name).toBe('IntrinsicFunctionError');
    expect(error.message).toBe(
      'Resources.Vpc.Properties.CidrBlock: unknown intrinsic function Fn::Cidr (not resolvable locally)',
    );
  });

  it('leaves objects with several keys, or ordinary keys, alone', () => {
    const value = {
      Condition: { StringEquals: { 'aws:SourceAccount': '1' } },
      Effect: 'Allow',
      Ref: 'not-alone',
    };

    expect(resolverFor({}).resolve(value)).toEqual(value);
  });
});

describe('TemplateResolver: helpers', () => {
  it('resolveProperties resolves a resource by logical id and resolveString insists on strings', () => {
    const resolver = resolverFor({
      Resources: {
        Queue: queue,
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Environment: { Variables: { Q: { Ref: 'Queue' } } } },
        },
      },
    });

    expect(resolver.resolveProperties('Fn')).toEqual({ Environment: { Variables: { Q: 'ref(Queue)' } } });
    expect(resolver.resolveProperties('Queue')).toEqual({});
    expect(resolver.resolveString({ 'Fn::Sub': '${AWS::Region}' })).toBe('us-east-1');
    expect(() => resolver.resolveString(['a'], 'Where')).toThrow('Where: expected a string, got ["a"]');
    expect(() => resolver.resolveProperties('Nope')).toThrow('the template has no resource "Nope"');
  });
});
