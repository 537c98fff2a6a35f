// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub ${...} syntax is data here, not a JS template.
import { describe, expect, it } from 'vitest';
import { DependencyCycleError, UnresolvableReferenceError } from '#local/template/errors.ts';
import { dependenciesOf, dependencyOrder } from '#local/template/graph.ts';
import type { CfnTemplate } from '#local/types.ts';
import { ids, loadFixtureTemplate } from '#test/fixtures/template/fixture.ts';

const queue = (
  properties?: Record<string, unknown>,
  extra: Partial<CfnTemplate['Resources'][string]> = {},
) => ({
  Type: 'AWS::SQS::Queue',
  ...(properties ? { Properties: properties } : {}),
  ...extra,
});

function cycleOf(template: CfnTemplate): readonly string[] {
  try {
    dependencyOrder(template);
  } catch (error) {
    if (error instanceof DependencyCycleError) return error.cycle;
    throw error;
  }
  throw new Error('expected a dependency cycle');
}

describe('dependenciesOf', () => {
  it('collects DependsOn, Ref, Fn::GetAtt (both forms) and Fn::Sub references, but not parameters or Sub variables', () => {
    const template: CfnTemplate = {
      Parameters: { Stage: { Type: 'String', Default: 'dev' } },
      Resources: {
        A: queue(),
        B: queue(),
        C: queue(),
        D: queue(),
        E: queue(),
        Subject: queue(
          {
            One: { Ref: 'A' },
            Two: { 'Fn::GetAtt': ['B', 'Arn'] },
            Three: { 'Fn::GetAtt': 'C.QueueName' },
            Four: { 'Fn::Sub': ['${D.Arn}/${Local}/${Stage}/${AWS::Region}/${!E}', { Local: 'x' }] },
            Stage: { Ref: 'Stage' },
          },
          { DependsOn: 'E' },
        ),
      },
    };

    expect([...dependenciesOf(template, 'Subject')].sort()).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('rejects DependsOn naming a resource the template lacks', () => {
    const template: CfnTemplate = { Resources: { A: queue(undefined, { DependsOn: ['Ghost'] }) } };

    expect(() => dependenciesOf(template, 'A')).toThrow(
      'Resources.A.DependsOn: DependsOn names "Ghost", which is not a resource of the template',
    );
    expect(() => dependenciesOf(template, 'Nope')).toThrow(UnresolvableReferenceError);
  });
});

describe('dependencyOrder', () => {
  it('orders the CDK-shaped fixture so that every resource follows what it references', () => {
    // Arrange
    const template = loadFixtureTemplate();

    // Act
    const order = dependencyOrder(template);

    // Assert
    const position = new Map(order.map((id, index) => [id, index]));
    for (const id of order) {
      for (const dependency of dependenciesOf(template, id)) {
        if (position.has(dependency)) expect(position.get(dependency)).toBeLessThan(position.get(id) ?? -1);
      }
    }
    expect(order).not.toContain(ids.expressQueue);
    expect(order).toContain(ids.cdkMetadata);
    expect(order).toHaveLength(Object.keys(template.Resources).length - 1);
    expect(order.indexOf(ids.dlq)).toBeLessThan(order.indexOf(ids.queue));
    expect(order.indexOf(ids.table)).toBeLessThan(order.indexOf(ids.mapping));
    expect(order.indexOf(ids.policy)).toBeLessThan(order.indexOf(ids.accept));
    expect(order.indexOf(ids.stateMachine)).toBeLessThan(order.indexOf(ids.accept));
  });

  it('keeps template order among independent resources', () => {
    const template: CfnTemplate = {
      Resources: { Zeta: queue(), Alpha: queue({ X: { Ref: 'Late' } }), Mid: queue(), Late: queue() },
    };

    expect(dependencyOrder(template)).toEqual(['Zeta', 'Mid', 'Late', 'Alpha']);
  });

  it('ignores references into excluded resources (only an untaken Fn::If branch can hold them)', () => {
    const template: CfnTemplate = {
      Conditions: { Never: { 'Fn::Equals': ['a', 'b'] } },
      Resources: {
        Optional: queue(undefined, { Condition: 'Never' }),
        User: queue({ Url: { 'Fn::If': ['Never', { Ref: 'Optional' }, { Ref: 'AWS::NoValue' }] } }),
      },
    };

    expect(dependencyOrder(template)).toEqual(['User']);
  });

  it('names the cycle when resources reference each other', () => {
    const template: CfnTemplate = {
      Resources: {
        Free: queue(),
        A: queue({ Target: { 'Fn::GetAtt': ['B', 'Arn'] } }),
        B: queue({ Source: { 'Fn::Sub': '${C}' } }),
        C: queue(undefined, { DependsOn: 'A' }),
      },
    };

    const cycle = cycleOf(template);

    expect(cycle).toEqual(['A', 'B', 'C', 'A']);
    expect(() => dependencyOrder(template)).toThrow(
      'resources depend on each other in a cycle: A -> B -> C -> A',
    );
  });

  it('reports a resource that references itself', () => {
    const template: CfnTemplate = { Resources: { Self: queue({ Me: { Ref: 'Self' } }) } };

    expect(cycleOf(template)).toEqual(['Self', 'Self']);
  });
});
