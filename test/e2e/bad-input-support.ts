/**
 * What the bad-input scenarios share (bad-input.test.ts on every target, plus the junk events at the local consumers
 * of bad-input.local.ts): the target and the client they act as, the hostile values, and the proof that nothing was
 * written.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, expect } from 'vitest';
import { ApiClient } from './client.ts';
import { type TableAccess, tableAccess } from './table.ts';
import { startTarget, type Target } from './target.ts';

/** A client of its own: on a deployed stack shared with other test files, its items are the ones to watch. */
export const CLIENT = 'mallory';
/** The target of the bad-input scenarios and the client they act as; set once the file's beforeAll has run. */
export interface BadInputTarget {
  target: Target;
  mallory: ApiClient;
  table: TableAccess;
}

/**
 * Starts the target before the calling file's tests and stops it after them. The client API's scenarios and the
 * local consumers' share it: a runtime start costs more than all of the local ones together.
 */
export function useBadInputTarget(): BadInputTarget {
  const ctx = {} as BadInputTarget;
  beforeAll(async () => {
    ctx.target = await startTarget({ clients: [CLIENT] });
    ctx.mallory = new ApiClient(ctx.target.apiUrl, ctx.target.apiKeys[CLIENT] ?? '');
    ctx.table = tableAccess(ctx.target);
  });
  afterAll(async () => {
    ctx.table?.close();
    await ctx.target?.stop();
  });
  return ctx;
}

/** Enough cases per property to find the odd ones, few enough for the suite's time budget. */
export const RUNS = 60;

export const HOSTILE = [
  '__proto__',
  'constructor',
  '../../../etc/passwd',
  '..%2F..%2Fadmin',
  "'; DROP TABLE orders; --",
  '<script>alert(1)</script>',
  ['$', '{jndi:ldap://127.0.0.1/a}'].join(''), // the log4shell probe, spelled so it is plainly data
  '{{7*7}}',
  '\u0000',
  '\uFEFF',
  'ORDER#00000000-0000-0000-0000-000000000000',
  'APIKEY#x',
  '%00',
  'null',
  'NaN',
  '1e309',
  '😀'.repeat(40),
  'a'.repeat(300),
];

/** Strings an attacker or a broken client sends: odd constants, any code point (lone surrogates too), graphemes. */
export const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
export const notString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer()),
  fc.object(),
);

/**
 * Items per entity (the pk prefix). Left out, by design: failure records (`FAILURE#…`, a worker logs why a message
 * failed, so an operator can read it next to the DLQ) and the client's rate-limit bucket (`RATE#…`, every request
 * counts against the client's limit, a bad one too, or a client could flood the API with bad requests for free);
 * everything else must stay exactly as it was. On a deployed
 * stack, which other test files use at the same time, only the items of this file's client are counted.
 */
async function stateCounts(table: TableAccess, scoped: boolean): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.doc.send(
      new ScanCommand({
        TableName: table.tableName,
        ProjectionExpression: 'pk',
        ExclusiveStartKey: startKey,
        ...(scoped
          ? {
              FilterExpression: 'clientId = :client OR pk = :clientPk OR begins_with(pk, :idempotency)',
              ExpressionAttributeValues: {
                ':client': CLIENT,
                ':clientPk': `CLIENT#${CLIENT}`,
                ':idempotency': `IDEMPOTENCY#${CLIENT}#`,
              },
            }
          : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const entity = String(item.pk).split('#')[0] ?? '';
      if (entity !== 'FAILURE' && entity !== 'RATE') counts[entity] = (counts[entity] ?? 0) + 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return counts;
}

/** Runs `property` and proves the table holds the same items afterwards. */
export async function writesNothingIn(
  table: TableAccess,
  scoped: boolean,
  property: () => Promise<void>,
): Promise<void> {
  const before = await stateCounts(table, scoped);
  await property();
  expect(await stateCounts(table, scoped)).toEqual(before);
}
