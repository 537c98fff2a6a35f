/**
 * The resource modules: each parses the resolved properties of its template resource type with a schema, and a
 * property of the wrong shape stops the start with an error naming the resource.
 */
import { describe, expect, it } from 'vitest';
import { eventsRule } from '#local/resources/events-rule.ts';
import { IGNORED_RESOURCE_TYPES } from '#local/resources/ignored.ts';
import { moduleFor, RESOURCE_MODULES } from '#local/resources/index.ts';
import { kmsAlias } from '#local/resources/kms-alias.ts';
import { lambdaFunction } from '#local/resources/lambda-function.ts';
import { ResourcePropertiesError } from '#local/resources/module.ts';
import { stateMachine } from '#local/resources/stepfunctions-state-machine.ts';
import { RESOURCE_SUPPORT, supportOf } from '#local/resources/support.ts';
import { LocalNames } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';
import { fixtureEndpoints, ids, loadFixtureTemplate } from '#test/fixtures/template/fixture.ts';

const fn = { Type: 'AWS::Lambda::Function' };

describe('resource property parsing', () => {
  it('names the logical id and the property when a property has the wrong shape', () => {
    // Act
    const parse = () =>
      lambdaFunction.parse('OrdersFunction1A2B3C4D', fn, { Handler: 'index.handler', Timeout: 'soon' });

    // Assert
    expect(parse).toThrow(ResourcePropertiesError);
    expect(parse).toThrow(/^AWS::Lambda::Function OrdersFunction1A2B3C4D: Properties\.Timeout: /);
  });

  it('reports every malformed property of a resource at once', () => {
    const error = (() => {
      try {
        eventsRule.parse('NotifyRule', { Type: 'AWS::Events::Rule' }, { Targets: [{ Id: 'a' }], State: 3 });
      } catch (caught) {
        return caught as ResourcePropertiesError;
      }
      throw new Error('expected a ResourcePropertiesError');
    })();

    expect(error.logicalId).toBe('NotifyRule');
    expect(error.message).toContain('Properties.Targets.0.Arn');
    expect(error.message).toContain('Properties.State');
  });

  it('takes numbers as CloudFormation writes them, as numbers or numeric strings, and fills defaults', () => {
    const parsed = lambdaFunction.parse('F', fn, {
      Timeout: '30',
      MemorySize: 512,
      Environment: { Variables: { TABLE: 'orders', RETRIES: 3, ON: true } },
    });

    expect(parsed.properties).toMatchObject({
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Timeout: 30,
      MemorySize: 512,
      Environment: { Variables: { TABLE: 'orders', RETRIES: '3', ON: 'true' } },
    });
  });

  it('refuses a state machine type Step Functions does not have, and defaults to STANDARD', () => {
    const resource = { Type: 'AWS::StepFunctions::StateMachine' };

    expect(stateMachine.parse('Saga', resource, { DefinitionString: '{}' }).properties.StateMachineType).toBe(
      'STANDARD',
    );
    expect(() => stateMachine.parse('Saga', resource, { StateMachineType: 'FAST' })).toThrow(
      /Saga: Properties\.StateMachineType/,
    );
  });

  it('keeps the properties it does not read for the engine that does', () => {
    const parsed = kmsAlias.parse(
      'Alias',
      { Type: 'AWS::KMS::Alias' },
      {
        AliasName: 'alias/webhooks',
        TargetKeyId: 'key-1',
        Extra: { kept: true },
      },
    );

    expect(parsed.properties).toEqual({
      AliasName: 'alias/webhooks',
      TargetKeyId: 'key-1',
      Extra: { kept: true },
    });
  });

  it('parses every supported resource of the CDK-shaped fixture once it is resolved', () => {
    const template = loadFixtureTemplate();
    const names = new LocalNames(template, DEFAULT_ACCOUNT, fixtureEndpoints);
    names.setAttribute(ids.table, 'StreamArn', 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/x');
    const resolver = new TemplateResolver(template, DEFAULT_ACCOUNT, names);
    let parsed = 0;
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const module = moduleFor(resource.Type);
      if (!module || !resolver.resourceIncluded(logicalId)) continue;
      expect(
        () => module.parse(logicalId, resource, resolver.resolveProperties(logicalId)),
        logicalId,
      ).not.toThrow();
      parsed += 1;
    }
    expect(parsed).toBeGreaterThan(10);
  });
});

describe('the support table derived from the modules', () => {
  it('lists every type a module runs as supported, with the engine the module names', () => {
    for (const module of RESOURCE_MODULES) {
      for (const type of module.types) {
        expect(supportOf(type), type).toEqual({ type, level: 'supported', note: module.engine });
      }
    }
  });

  it('lists the ignored types with their reasons, and nothing else', () => {
    for (const [type, reason] of Object.entries(IGNORED_RESOURCE_TYPES)) {
      expect(supportOf(type)).toEqual({ type, level: 'ignored', note: reason });
    }
    const moduleTypes = RESOURCE_MODULES.flatMap((module) => module.types);
    expect(RESOURCE_SUPPORT).toHaveLength(moduleTypes.length + Object.keys(IGNORED_RESOURCE_TYPES).length);
  });

  it('never lists a type both as run and as ignored', () => {
    const moduleTypes = RESOURCE_MODULES.flatMap((module) => module.types);
    expect(new Set(moduleTypes).size).toBe(moduleTypes.length);
    expect(moduleTypes.filter((type) => type in IGNORED_RESOURCE_TYPES)).toEqual([]);
  });
});
