import { describe, expect, it } from 'vitest';
import {
  evaluateJsonPath,
  InvalidTargetInputError,
  renderTargetInput,
  type TargetInput,
  type TargetInputContext,
  validateTargetInput,
} from '#local/engines/eventbridge/transform.ts';

// The sample event of the EventBridge user guide's input-transformation page.
const event = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: {
    'instance-id': 'i-0123456789',
    state: 'RUNNING',
    count: 3,
    tags: { env: 'prod' },
    items: [{ sku: 'A' }, { sku: 'B' }],
    nothing: null,
  },
};

const context: TargetInputContext = {
  ruleName: 'example',
  ruleArn: 'arn:aws:events:us-east-1:123456789012:rule/example',
  ingestionTime: '2015-11-11T21:29:55Z',
};

const paths = { instance: '$.detail.instance-id', state: '$.detail.state' };
const transformer = (InputTemplate: string, InputPathsMap: Record<string, string> = paths): TargetInput => ({
  InputTransformer: { InputPathsMap, InputTemplate },
});

interface RenderCase {
  name: string;
  target: TargetInput;
  expected: string;
}

const cases: RenderCase[] = [
  { name: 'no input settings deliver the whole event', target: {}, expected: JSON.stringify(event) },
  {
    name: 'Input delivers the constant text as is',
    target: { Input: '{ "fixed" : true }' },
    expected: '{ "fixed" : true }',
  },
  {
    name: 'InputPath $ delivers the whole event',
    target: { InputPath: '$' },
    expected: JSON.stringify(event),
  },
  { name: 'InputPath selects an object', target: { InputPath: '$.detail.tags' }, expected: '{"env":"prod"}' },
  {
    name: 'InputPath selects a string as JSON',
    target: { InputPath: '$.detail.state' },
    expected: '"RUNNING"',
  },
  { name: 'InputPath selects a number', target: { InputPath: '$.detail.count' }, expected: '3' },
  {
    name: 'InputPath selects an array element',
    target: { InputPath: '$.resources[0]' },
    expected: '"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"',
  },
  {
    name: 'InputPath into an array element',
    target: { InputPath: '$.detail.items[1].sku' },
    expected: '"B"',
  },
  {
    name: 'InputPath wildcard lists every match',
    target: { InputPath: '$.detail.items[*].sku' },
    expected: '["A","B"]',
  },
  {
    name: 'InputPath that selects nothing delivers null',
    target: { InputPath: '$.detail.missing' },
    expected: 'null',
  },
  {
    name: 'InputPath past the end of an array delivers null',
    target: { InputPath: '$.resources[5]' },
    expected: 'null',
  },
  {
    name: 'simple string template (docs)',
    target: transformer('"instance <instance> is in <state>"'),
    expected: '"instance i-0123456789 is in RUNNING"',
  },
  {
    name: 'string with escaped quotes (docs)',
    target: transformer('"instance \\"<instance>\\" is in <state>"'),
    expected: '"instance \\"i-0123456789\\" is in RUNNING"',
  },
  {
    name: 'simple JSON: values outside quotes become JSON strings (docs)',
    target: transformer('{\n  "instance" : <instance>,\n  "state": <state>\n}'),
    expected: '{"instance":"i-0123456789","state":"RUNNING"}',
  },
  {
    name: 'JSON with strings and variables (docs)',
    target: transformer(
      '{\n "instance" : <instance>,\n "state": "<state>",\n "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}',
    ),
    expected: JSON.stringify({
      instance: 'i-0123456789',
      state: 'RUNNING',
      instanceStatus: 'instance "i-0123456789" is in RUNNING',
    }),
  },
  {
    name: 'JSON mixing variables and static values (docs)',
    target: transformer(
      '{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}',
    ),
    expected: '{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}',
  },
  {
    name: 'a number outside quotes stays a number',
    target: transformer('{"count": <count>}', { count: '$.detail.count' }),
    expected: '{"count":3}',
  },
  {
    name: 'a number inside quotes is inserted as its digits',
    target: transformer('"count is <count>"', { count: '$.detail.count' }),
    expected: '"count is 3"',
  },
  {
    name: 'an object outside quotes is inserted as JSON',
    target: transformer('{"tags": <tags>}', { tags: '$.detail.tags' }),
    expected: '{"tags":{"env":"prod"}}',
  },
  {
    name: 'an object inside quotes is inserted unescaped (so the output is no longer JSON)',
    target: transformer('{"tags": "<tags>"}', { tags: '$.detail.tags' }),
    expected: '{"tags": "{"env":"prod"}"}',
  },
  {
    name: 'a missing path outside quotes becomes null',
    target: transformer('{"command": <command>}', { command: '$.detail.command' }),
    expected: '{"command":null}',
  },
  {
    name: 'a missing path inside quotes becomes an empty string',
    target: transformer('{"command": "<command>"}', { command: '$.detail.command' }),
    expected: '{"command":""}',
  },
  {
    name: 'a missing path inside a string template leaves nothing',
    target: transformer('"info extracted from detail <command>"', { command: '$.detail.command' }),
    expected: '"info extracted from detail "',
  },
  {
    name: 'a null value outside quotes stays null',
    target: transformer('{"v": <v>}', { v: '$.detail.nothing' }),
    expected: '{"v":null}',
  },
  {
    name: 'a wildcard path inserts the list of matches',
    target: transformer('{"skus": <skus>}', { skus: '$.detail.items[*].sku' }),
    expected: '{"skus":["A","B"]}',
  },
  {
    name: 'a bare placeholder template renders the value as JSON',
    target: transformer('<state>'),
    expected: '"RUNNING"',
  },
  {
    name: 'special characters at the start of a string template are kept',
    target: transformer('"{[/Check with special starting characters for event of <type> type"', {
      type: '$.detail-type',
    }),
    expected:
      '"{[/Check with special starting characters for event of EC2 Instance State-change Notification type"',
  },
  {
    name: 'angle brackets that are not placeholders are kept',
    target: transformer('"1 < 2 and <state> > 0"'),
    expected: '"1 < 2 and RUNNING > 0"',
  },
  {
    name: 'a template without placeholders is a constant',
    target: { InputTransformer: { InputTemplate: '{"ping": true}' } },
    expected: '{"ping":true}',
  },
  {
    name: 'rule name and ARN in JSON (docs)',
    target: transformer('{"ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>}'),
    expected: '{"ruleArn":"arn:aws:events:us-east-1:123456789012:rule/example","ruleName":"example"}',
  },
  {
    name: 'reserved variables in a string (docs)',
    target: transformer('"<aws.events.rule-name> triggered at <aws.events.event.ingestion-time>"'),
    expected: '"example triggered at 2015-11-11T21:29:55Z"',
  },
  {
    name: 'aws.events.event.json is the whole event',
    target: transformer('{"original": <aws.events.event.json>}'),
    expected: JSON.stringify({ original: event }),
  },
  {
    name: 'aws.events.event is the envelope without detail, as AWS emits it',
    target: transformer('{"original": <aws.events.event>}'),
    expected: JSON.stringify({
      original: {
        id: event.id,
        account: event.account,
        detailType: event['detail-type'],
        time: '2015-11-11T21:29:55Z',
        source: event.source,
        region: event.region,
        resources: event.resources,
        version: event.version,
      },
    }),
  },
];

describe('renderTargetInput', () => {
  it.each(cases)('$name', ({ target, expected }) => {
    // Act
    const rendered = renderTargetInput(event, target, context);

    // Assert
    expect(rendered).toBe(expected);
  });

  it('falls back to the event time for the ingestion time and renders unknown rule facts as missing', () => {
    // Arrange
    const target = transformer('{"at": <aws.events.event.ingestion-time>, "rule": "<aws.events.rule-name>"}');

    // Act
    const rendered = renderTargetInput(event, target);

    // Assert
    expect(JSON.parse(rendered)).toEqual({ at: '2015-11-11T21:29:54Z', rule: '' });
  });

  it('renders the CDK RuleTargetInput.fromObject shape into a parseable body', () => {
    // Arrange: what `RuleTargetInput.fromObject({ orderId: EventField.fromPath('$.detail.orderId'), ... })` synthesizes.
    const target = transformer(
      '{"orderId":<detail-orderId>,"text":"Order <detail-orderId> confirmed","detail":<detail>}',
      {
        'detail-orderId': '$.detail.orderId',
        detail: '$.detail',
      },
    );
    const order = { ...event, detail: { orderId: 'o-1', amount: 12.5 } };

    // Act
    const body = JSON.parse(renderTargetInput(order, target)) as unknown;

    // Assert
    expect(body).toEqual({
      orderId: 'o-1',
      text: 'Order o-1 confirmed',
      detail: { orderId: 'o-1', amount: 12.5 },
    });
  });

  it('does not let one rendering leak into the next', () => {
    // Arrange
    const target = transformer('"<state>"');

    // Act
    const first = renderTargetInput(event, target);
    const second = renderTargetInput({ ...event, detail: { state: 'STOPPED' } }, target);

    // Assert
    expect([first, second]).toEqual(['"RUNNING"', '"STOPPED"']);
  });
});

interface InvalidCase {
  name: string;
  target: TargetInput;
  message: string;
}

const invalid: InvalidCase[] = [
  {
    name: 'more than one input setting',
    target: { Input: '{}', InputPath: '$.detail' },
    message: 'Only one of Input, InputPath, or InputTransformer must be provided.',
  },
  {
    name: 'an Input that is not JSON',
    target: { Input: 'not json' },
    message: 'Input must be valid JSON text',
  },
  { name: 'an InputPath without $', target: { InputPath: 'detail.state' }, message: 'it must start with $' },
  {
    name: 'an InputPath with a broken bracket',
    target: { InputPath: '$.detail[abc]' },
    message: 'is not a supported JSONPath',
  },
  {
    name: 'an InputPath with an empty step',
    target: { InputPath: '$.detail..state' },
    message: 'is not a supported JSONPath',
  },
  {
    name: 'an empty template',
    target: { InputTransformer: { InputTemplate: '' } },
    message: 'non-empty InputTemplate',
  },
  {
    name: 'a placeholder that is not defined',
    target: transformer('"<notdefinedkey>"'),
    message: 'InputTemplate contains invalid placeholder notdefinedkey.',
  },
  {
    name: 'a reserved variable redefined',
    target: transformer('"<aws.events.rule-name>"', { 'aws.events.rule-name': '$.source' }),
    message: 'is reserved',
  },
  {
    name: 'a key starting with AWS.',
    target: transformer('"<AWS.mine>"', { 'AWS.mine': '$.source' }),
    message: 'keys cannot start with "AWS."',
  },
  {
    name: 'an input path that is not JSONPath',
    target: transformer('"<state>"', { state: 'detail.state' }),
    message: 'InputPathsMap[state] "detail.state" is not a supported JSONPath',
  },
  {
    name: 'more than 100 input paths',
    target: transformer(
      '"x"',
      Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, '$.source'])),
    ),
    message: 'at most 100 are allowed',
  },
];

describe('validateTargetInput', () => {
  it.each(invalid)('rejects $name', ({ target, message }) => {
    // Act
    const validate = () => validateTargetInput(target);
    const render = () => renderTargetInput(event, target);

    // Assert
    expect(validate).toThrow(InvalidTargetInputError);
    expect(validate).toThrow(message);
    expect(render).toThrow(InvalidTargetInputError);
  });

  it('names its error', () => {
    try {
      validateTargetInput({ InputPath: 'nope' });
      expect.unreachable('validation should have failed');
    } catch (error) {
      expect((error as Error).name).toBe('InvalidTargetInput');
    }
  });

  it('accepts each documented setting', () => {
    expect(() => validateTargetInput({})).not.toThrow();
    expect(() => validateTargetInput({ Input: '"text"' })).not.toThrow();
    expect(() => validateTargetInput({ InputPath: "$.detail['instance-id']" })).not.toThrow();
    expect(() =>
      validateTargetInput(transformer('{"a": <instance>, "b": <aws.events.event.json>}')),
    ).not.toThrow();
  });
});

describe('evaluateJsonPath', () => {
  it.each([
    ['$', event],
    ['$.detail.instance-id', 'i-0123456789'],
    ["$.detail['instance-id']", 'i-0123456789'],
    ['$.detail.items[0].sku', 'A'],
    ['$.detail.items.*.sku', ['A', 'B']],
    ['$.detail.tags.*', ['prod']],
    ['$.detail.nothing', null],
    ['$.detail.items[*].missing', undefined],
    ['$.detail.state.length', undefined],
    ['$.detail.constructor', undefined],
  ])('%s', (path, expected) => {
    expect(evaluateJsonPath(event, path)).toEqual(expected);
  });
});
