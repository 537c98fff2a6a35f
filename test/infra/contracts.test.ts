/**
 * The strings that tie the stack to the handlers come from `contracts/`; these tests check the synthesized template
 * and the handlers against each other, so a construct or a handler that stops using the contracts (or a contract
 * that one side stops honouring) fails here rather than in a deployed account.
 */
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '#contracts/environment.ts';
import { EVENT_SOURCE, ORDER_EVENT_TYPES } from '#contracts/events.ts';
import { STEP_ERRORS, VERDICTS } from '#contracts/saga.ts';
import { BY_CLIENT_ATTRIBUTES, INDEXES, OPEN_ATTRIBUTES } from '#contracts/table.ts';
import * as orderErrors from '#functions/orders/errors.ts';
import { BuzzerFunction } from '#lib/constructs/buzzer-function.ts';
import * as sharedErrors from '#shared/errors.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

const FUNCTIONS_ROOT = path.resolve(import.meta.dirname, '..', '..', 'functions');

let synth: SynthResult;
let resources: Record<string, Resource>;

beforeAll(() => {
  synth = synthBuzzer();
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
}, 120_000);

function ofType(type: string): Resource[] {
  return Object.values(resources).filter((resource) => resource.Type === type);
}

/** What the stack gives a function, with each token (a Ref, a GetAtt, a Join) replaced by a value of its kind. */
function environmentOf(fn: BuzzerFunction): Record<string, string> {
  const logicalId = Stack.of(fn).getLogicalId(fn.function.node.defaultChild as never);
  const variables = ((resources[logicalId]?.Properties.Environment as { Variables?: Record<string, unknown> })
    ?.Variables ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => {
      if (typeof value === 'string') return [name, value];
      // A JSON document with tokens in it (Stack.toJsonString: the operator API's queues), its tokens queue URLs.
      const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      if (join && typeof join[1][0] === 'string' && join[1][0].startsWith('{'))
        return [
          name,
          join[1]
            .map((part) =>
              typeof part === 'string' ? part : 'https://sqs.eu-west-1.amazonaws.com/123456789012/queue',
            )
            .join(join[0]),
        ];
      if (name.endsWith('_URL')) return [name, 'https://sqs.eu-west-1.amazonaws.com/123456789012/queue'];
      return [name, 'arn:aws:service:eu-west-1:123456789012:resource/name'];
    }),
  );
}

function buzzerFunctions(): BuzzerFunction[] {
  return synth.stack.node.findAll().filter((c): c is BuzzerFunction => c instanceof BuzzerFunction);
}

describe('environment variables', () => {
  it('every variable the template sets is one the contracts name', () => {
    const known = new Set<string>(Object.values(ENV));
    const functions = buzzerFunctions();
    expect(functions.length).toBeGreaterThan(15);
    for (const fn of functions) {
      const unknown = Object.keys(environmentOf(fn)).filter(
        (name) => !known.has(name) && name !== 'NODE_OPTIONS',
      );
      expect(unknown, fn.node.path).toEqual([]);
    }
  });

  it('every handler loads with exactly the environment its function gets (its config schema finds what it reads)', async () => {
    const saved = process.env;
    const functions = buzzerFunctions();
    expect(functions.length).toBeGreaterThan(15);
    try {
      for (const fn of functions) {
        vi.resetModules();
        process.env = { AWS_REGION: 'eu-west-1', ...environmentOf(fn) };
        const module = (await import(path.join(FUNCTIONS_ROOT, fn.entry))) as { handler?: unknown };
        expect(typeof module.handler, fn.entry).toBe('function');
      }
    } finally {
      process.env = saved;
      vi.resetModules();
    }
  }, 120_000);

  it('a handler whose variable is missing fails at load, naming it', async () => {
    const saved = process.env;
    const relay = buzzerFunctions().find((fn) => fn.entry === 'outbox/relay-outbox.ts');
    if (!relay) throw new Error('the outbox relay is not in the stack');
    try {
      vi.resetModules();
      const { [ENV.EVENT_BUS_NAME]: _dropped, ...rest } = environmentOf(relay);
      process.env = { AWS_REGION: 'eu-west-1', ...rest };
      await expect(import(path.join(FUNCTIONS_ROOT, relay.entry))).rejects.toThrow(ENV.EVENT_BUS_NAME);
    } finally {
      process.env = saved;
      vi.resetModules();
    }
  });
});

describe('events', () => {
  it('every rule on the bus matches the source the relay stamps and detail types the contracts name', () => {
    const patterned = ofType('AWS::Events::Rule').filter(
      (rule) => rule.Properties.EventPattern !== undefined,
    );
    // The default bus carries AWS services' events: only the settlement inbox's S3 rule listens there.
    const onDefaultBus = patterned.filter((rule) => rule.Properties.EventBusName === undefined);
    expect(
      onDefaultBus.map((rule) => (rule.Properties.EventPattern as { source?: string[] }).source),
    ).toEqual([['aws.s3']]);
    const rules = patterned.filter((rule) => rule.Properties.EventBusName !== undefined);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      const pattern = rule.Properties.EventPattern as { source?: string[]; 'detail-type'?: string[] };
      expect(pattern.source).toEqual([EVENT_SOURCE]);
      expect(pattern['detail-type']?.length).toBeGreaterThan(0);
      for (const type of pattern['detail-type'] ?? []) expect(ORDER_EVENT_TYPES).toContain(type);
    }
  });
});

describe('the saga', () => {
  /** The state machine's definition with its tokens (ARNs) replaced, parsed. */
  function definition(): { States: Record<string, unknown> } {
    const [machine] = ofType('AWS::StepFunctions::StateMachine');
    const source = machine?.Properties.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
    const text =
      typeof source === 'string'
        ? source
        : source['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
    return JSON.parse(text) as { States: Record<string, unknown> };
  }

  function errorNames(node: unknown, found: Set<string>): Set<string> {
    if (Array.isArray(node)) for (const item of node) errorNames(item, found);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'ErrorEquals') for (const name of value as string[]) found.add(name);
        else errorNames(value, found);
      }
    }
    return found;
  }

  it('matches only errors the handlers throw (the contracts) or AWS defines (States.*, Lambda.*)', () => {
    const names = errorNames(definition().States, new Set());
    const ours = new Set<string>(Object.values(STEP_ERRORS));
    expect([...names].filter((name) => !/^(States|Lambda)\./.test(name) && !ours.has(name))).toEqual([]);
    for (const verdict of VERDICTS) expect(names).toContain(verdict);
    expect(names).toContain(STEP_ERRORS.ChargeMayBeInFlight);
    expect(names).toContain(STEP_ERRORS.PaymentProviderUnavailable);
    expect(names).toContain(STEP_ERRORS.PaymentHeld);
  });

  it('every error class a step can throw reports the name the contracts give it', () => {
    const classes = [...Object.values(orderErrors), ...Object.values(sharedErrors)] as unknown as Array<
      new (
        ...args: unknown[]
      ) => Error
    >;
    expect(classes.length).toBe(Object.keys(STEP_ERRORS).length);
    for (const ErrorClass of classes) {
      // An array serves every constructor: a list of SKUs, or a message once stringified.
      const error = new ErrorClass(['x'], ['x'], ['x']);
      expect(error.name).toBe(ErrorClass.name);
      expect(Object.values(STEP_ERRORS)).toContain(error.name);
    }
  });
});

describe('the table', () => {
  it('has exactly the indexes the contracts name', () => {
    const [table] = ofType('AWS::DynamoDB::Table');
    const indexes = ((table?.Properties.GlobalSecondaryIndexes ?? []) as Array<{ IndexName: string }>).map(
      (index) => index.IndexName,
    );
    expect(indexes.sort()).toEqual(Object.values(INDEXES).sort());
  });

  it('projects into ByClient and Open only attributes a saga step does not rewrite', () => {
    const [table] = ofType('AWS::DynamoDB::Table');
    const projection = (name: string) =>
      (
        (table?.Properties.GlobalSecondaryIndexes ?? []) as Array<{
          IndexName: string;
          Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
        }>
      ).find((index) => index.IndexName === name)?.Projection;
    expect(projection(INDEXES.ByClient)).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [...BY_CLIENT_ATTRIBUTES],
    });
    expect(projection(INDEXES.Open)).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [...OPEN_ATTRIBUTES],
    });
    // Every step changes these: with them in an index, every step would rewrite the order's entry there too.
    for (const changing of ['timeline', 'version', 'updatedAt']) {
      expect([...BY_CLIENT_ATTRIBUTES, ...OPEN_ATTRIBUTES]).not.toContain(changing);
    }
    // The terminal transition changes the status: projected, it rewrote every order's ByClient entry once more.
    expect(BY_CLIENT_ATTRIBUTES).not.toContain('status');
  });
});
