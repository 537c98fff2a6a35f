import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { usageIdentifierOf } from '#functions/clients/limits.ts';
import type { ClientLimitsView } from '#ops/cli/clients.ts';
import { targetFromRuntime } from '#ops/cli/context.ts';
import { runCli } from '#ops/cli/program.ts';
import type { UsagePlanKeys } from '#ops/cli/usage-plans.ts';
import { opsContext, runtimeFile } from './helpers.ts';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const TABLE = 'Buzzer-Table';
const HASH = 'ab'.repeat(32);

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

/** API Gateway's keys as the CLI sees them: calls recorded. */
function fakeUsagePlanKeys() {
  const calls: string[] = [];
  const keys: UsagePlanKeys = {
    attach: async (request) => {
      calls.push(`attach ${request.name} ${request.value} ${request.usagePlanId}`);
      return { apiKeyId: 'k-1', created: true };
    },
    remove: async (name) => {
      calls.push(`remove ${name}`);
      return true;
    },
    close: () => {},
  };
  return { calls, keys };
}

const REST_OUTPUTS = { ApiFlavour: 'rest', ClientUsagePlans: JSON.stringify({ standard: 'plan-1' }) };

async function buzzer(options: { rest?: UsagePlanKeys }, ...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    discover: async () => {
      const ctx = opsContext({ doc });
      if (!options.rest) return ctx;
      return {
        ...ctx,
        target: targetFromRuntime({ ...runtimeFile, outputs: { ...runtimeFile.outputs, ...REST_OUTPUTS } }),
        usagePlanKeys: options.rest,
      };
    },
    io: {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    },
  });
  return { code, out, err, json: <T>() => JSON.parse(out) as T };
}

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('clients limits', () => {
  it('gives a client its own rate and burst, in its LIMITS# item', async () => {
    ddb.on(PutCommand).resolves({});

    const { code, json } = await buzzer(
      {},
      'clients',
      'limits',
      'acme',
      '--rate',
      '2',
      '--burst',
      '4',
      '--json',
    );

    expect(code).toBe(0);
    expect(json<ClientLimitsView>()).toEqual({
      clientId: 'acme',
      source: 'own',
      rateLimit: 2,
      burstLimit: 4,
      updatedAt: NOW.toISOString(),
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: {
        pk: 'LIMITS#acme',
        sk: 'LIMITS',
        entity: 'ClientLimits',
        clientId: 'acme',
        rateLimit: 2,
        burstLimit: 4,
        updatedAt: NOW.toISOString(),
      },
    });
  });

  it('shows the own limits, or says the defaults apply', async () => {
    ddb.on(GetCommand).resolves({
      Item: { clientId: 'acme', rateLimit: 0.5, burstLimit: 3, updatedAt: NOW.toISOString() },
    });
    expect((await buzzer({}, 'clients', 'limits', 'acme')).out).toMatch(/0.5 requests a second, bursts of 3/);

    ddb.on(GetCommand).resolves({});
    expect((await buzzer({}, 'clients', 'limits', 'acme')).out).toMatch(/the stack's default limits/);
  });

  it('puts a client back on the defaults with --default', async () => {
    ddb.on(DeleteCommand).resolves({});

    const { code } = await buzzer({}, 'clients', 'limits', 'acme', '--default');

    expect(code).toBe(0);
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { pk: 'LIMITS#acme', sk: 'LIMITS' } });
  });

  it.each([
    [['--rate', '2'], /both --rate and --burst/],
    [['--rate', '0', '--burst', '4'], /--rate must be requests a second/],
    [['--rate', '2', '--burst', '1.5'], /--burst must be a whole number/],
    [['--rate', 'fast', '--burst', '4'], /not a number/],
    [['--default', '--rate', '2', '--burst', '4'], /--default takes no --rate/],
  ])('refuses %j without writing', async (args, message) => {
    const { code, err } = await buzzer({}, 'clients', 'limits', 'acme', ...args);

    expect(code).not.toBe(0);
    expect(err).toMatch(message);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('keys on the REST flavour', () => {
  it("attaches the client's API Gateway key (its usage identifier, not its secret) to the standard plan first", async () => {
    const fake = fakeUsagePlanKeys();

    const { code, json } = await buzzer({ rest: fake.keys }, 'keys', 'create', '--client', 'acme', '--json');

    expect(code).toBe(0);
    expect(fake.calls).toEqual([`attach Buzzer-acme ${usageIdentifierOf('acme')} plan-1`]);
    expect(fake.calls.join()).not.toContain(json<{ apiKey: string }>().apiKey);
  });

  it('issues no key when API Gateway refuses the attachment', async () => {
    const keys: UsagePlanKeys = {
      attach: async () => {
        throw new Error('AccessDenied');
      },
      remove: async () => true,
      close: () => {},
    };

    const { code, err } = await buzzer({ rest: keys }, 'keys', 'create', '--client', 'acme');

    expect(code).toBe(1);
    expect(err).toContain('AccessDenied');
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it("deletes the client's API Gateway key with its last active key, and keeps it while another works", async () => {
    const entry = (overrides: Record<string, unknown>) => ({
      pk: 'CLIENT#acme',
      sk: `APIKEY#${HASH.slice(0, 12)}`,
      clientId: 'acme',
      keyId: `acme:${HASH.slice(0, 12)}`,
      status: 'ACTIVE',
      createdAt: '2026-04-01T00:00:00.000Z',
      keyHash: HASH,
      last4: 'wxyz',
      ...overrides,
    });
    ddb.on(GetCommand).resolves({ Item: entry({}) });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [entry({ status: 'REVOKED' })] });
    const fake = fakeUsagePlanKeys();

    expect((await buzzer({ rest: fake.keys }, 'keys', 'revoke', `acme:${HASH.slice(0, 12)}`)).code).toBe(0);
    expect(fake.calls).toEqual(['remove Buzzer-acme']);

    ddb.on(QueryCommand).resolves({
      Items: [entry({ status: 'REVOKED' }), entry({ keyId: 'acme:000000000002', sk: 'APIKEY#000000000002' })],
    });
    fake.calls.length = 0;
    expect((await buzzer({ rest: fake.keys }, 'keys', 'revoke', `acme:${HASH.slice(0, 12)}`)).code).toBe(0);
    expect(fake.calls).toEqual([]);
  });

  it('touches no API Gateway key on the HTTP flavour', async () => {
    const fake = fakeUsagePlanKeys();
    const ctx = opsContext({ doc });
    expect(ctx.target.apiFlavour).toBe('http');
    expect((await buzzer({}, 'keys', 'create', '--client', 'acme')).code).toBe(0);
    expect(fake.calls).toEqual([]);
  });
});
