import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuzzerFunction } from '#lib/constructs/buzzer-function.ts';
import { Data } from '#lib/constructs/data.ts';
import { ITEM_ACTIONS, TABLE_ACCESS, type TableAccess } from '#lib/constructs/table-access.ts';
import { keys, OPEN_ORDER, OPEN_OUTBOX_FAILED, OPEN_OUTBOX_PENDING } from '#shared/table-keys.ts';
import { handlerAccess } from './handler-access.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';
import {
  actionsOf,
  allows,
  type DeployedFunction,
  deployedFunctions,
  resourcesOf,
  type Statement,
} from './table-policy.ts';

let synth: SynthResult;
let functions: DeployedFunction[];
/** The single table's ARN as resourceText writes it (`<logical id>.Arn`). */
let tableArn: string;

beforeAll(() => {
  synth = synthBuzzer();
  // The burst mail service's functions (`mailService: 'burst'`) and the synchronous POST /orders (`orderFlow: 'sync'`)
  // exist only in their variants: both are declared in TABLE_ACCESS too, so the checks below run over the functions of
  // every variant (the shared ones once).
  functions = deployedFunctions(synth);
  for (const variant of [{ mailService: 'burst' as const }, { orderFlow: 'sync' as const }]) {
    const more = deployedFunctions(synthBuzzer(variant));
    functions.push(...more.filter((f) => !functions.some((g) => g.path === f.path)));
  }
  tableArn = `${synth.stack.getLogicalId(synth.stack.data.table.node.defaultChild as dynamodb.CfnTable)}.Arn`;
});

const fn = (path: string): DeployedFunction => {
  const found = functions.find((f) => f.path === path);
  if (!found) throw new Error(`no function at ${path}; there are ${functions.map((f) => f.path).join(', ')}`);
  return found;
};
/** May the function at `path` do `action` on the item (or index partition) with partition key `pk`? */
const can = (path: string, action: string, pk: string, index?: string): boolean =>
  allows(fn(path).statements, action, index ? `${tableArn}/index/${index}` : tableArn, pk);
const onTable = (s: Statement): boolean =>
  resourcesOf(s).some((r) => r === tableArn || r.startsWith(`${tableArn}/`));

const pk = {
  order: keys.order('o-1').pk,
  outbox: keys.outbox('m-1').pk,
  idempotency: keys.idempotency('alice', 'k-1').pk,
  apiKey: keys.apiKey('5f2b').pk,
  stock: keys.stock('espresso').pk,
  effect: keys.effect('notify', 'm-1').pk,
  points: keys.pointsLedger('alice', 'c-1', 'o-1').pk,
  client: keys.webhook('alice', 'w-1').pk,
  webhook: 'WEBHOOK#w-1',
  failure: 'FAILURE#m-1',
};
const ALL_KEYS = Object.values(pk);
const OPERATOR_API = 'OperatorApi/Handler';
const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const READS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];

describe('table permissions per item (dynamodb:LeadingKeys)', () => {
  it('scopes every statement on the table and its indexes to partition keys, for all keys of a request', () => {
    const onTheTable = functions.flatMap((f) =>
      f.statements.filter(onTable).map((s) => ({ path: f.path, statement: s })),
    );
    expect(onTheTable.length).toBeGreaterThan(20);
    for (const { path, statement } of onTheTable) {
      const operators = Object.keys(statement.Condition ?? {});
      // ForAllValues: every partition key of the request must match (one key outside fails a BatchGetItem whole).
      expect(operators, `${path}: ${actionsOf(statement).join(',')}`).toEqual([
        expect.stringMatching(/^ForAllValues:String(Like|Equals)$/),
      ]);
      const condition = Object.values(statement.Condition ?? {})[0] ?? {};
      expect(Object.keys(condition), path).toEqual(['dynamodb:LeadingKeys']);
      // LeadingKeys does not limit a Scan (no leading key), so a Scan must never ride on such a statement.
      expect(actionsOf(statement), path).not.toContain('dynamodb:Scan');
    }
  });

  it('lets the accept function write orders, outbox messages and idempotency records, read orders, and no API key', () => {
    const accept = 'Api/AcceptOrder';
    for (const action of ITEM_ACTIONS) expect(can(accept, action, pk.apiKey), action).toBe(false);
    for (const key of [pk.order, pk.outbox, pk.idempotency])
      expect(can(accept, 'dynamodb:PutItem', key)).toBe(true);
    expect(can(accept, 'dynamodb:GetItem', pk.idempotency)).toBe(true);
    // `Prefer: wait` re-reads the order it waits for.
    expect(can(accept, 'dynamodb:GetItem', pk.order)).toBe(true);
    // Prices are read; nothing at acceptance changes stock, an existing order, or a client's webhooks.
    expect(can(accept, 'dynamodb:BatchGetItem', pk.stock)).toBe(true);
    for (const action of WRITES) {
      expect(can(accept, action, pk.stock), action).toBe(false);
      expect(can(accept, action, pk.client), action).toBe(false);
    }
    expect(can(accept, 'dynamodb:UpdateItem', pk.order)).toBe(false);
    expect(can(accept, 'dynamodb:DeleteItem', pk.order)).toBe(false);
  });

  it('lets the authorizer read API keys and nothing else', () => {
    const authorizer = 'Api/Authorizer';
    expect(can(authorizer, 'dynamodb:GetItem', pk.apiKey)).toBe(true);
    for (const key of ALL_KEYS.filter((k) => k !== pk.apiKey)) {
      for (const action of READS) expect(can(authorizer, action, key), `${action} ${key}`).toBe(false);
    }
    for (const action of WRITES) expect(can(authorizer, action, pk.apiKey), action).toBe(false);
  });

  it('lets no other function read an API key, and no function write one (the operator CLI issues keys)', () => {
    expect(functions.map((f) => f.path)).toContain('Api/Authorizer');
    expect(functions.length).toBeGreaterThan(1);
    for (const f of functions) {
      for (const action of WRITES) expect(can(f.path, action, pk.apiKey), `${f.path} ${action}`).toBe(false);
      if (f.path === 'Api/Authorizer') continue;
      for (const action of READS) expect(can(f.path, action, pk.apiKey), `${f.path} ${action}`).toBe(false);
    }
  });

  it('lets no function delete an order, and the workers delete nothing but their own effect markers', () => {
    expect(functions.length).toBeGreaterThan(1);
    for (const f of functions) {
      expect(can(f.path, 'dynamodb:DeleteItem', pk.order), f.path).toBe(false);
      expect(can(f.path, 'dynamodb:BatchWriteItem', pk.order), f.path).toBe(false);
    }
    for (const worker of [
      'Notifier/Handler',
      'Points/Handler',
      'Webhooks/FanOut/Handler',
      'Webhooks/Dispatcher',
    ]) {
      const deletable = ALL_KEYS.filter((key) => can(worker, 'dynamodb:DeleteItem', key));
      expect(deletable, worker).toEqual(worker === 'Notifier/Handler' ? [pk.effect] : []);
      for (const action of WRITES) expect(can(worker, action, pk.order), `${worker} ${action}`).toBe(false);
    }
  });

  it('keeps the saga steps to the order, its stock and its outbox messages', () => {
    const steps = [
      'ReserveStock',
      'AuthorizePayment',
      'ConfirmOrder',
      'VoidPayment',
      'ReleaseStock',
      'CancelOrder',
    ];
    for (const step of steps.map((s) => `Saga/${s}`)) {
      expect(can(step, 'dynamodb:UpdateItem', pk.order), step).toBe(true);
      for (const key of [pk.apiKey, pk.idempotency, pk.client, pk.webhook, pk.effect, pk.points]) {
        for (const action of [...READS, ...WRITES])
          expect(can(step, action, key), `${step} ${action}`).toBe(false);
      }
    }
    // Only the stock steps move stock; only the terminal steps announce a fact.
    expect(can('Saga/AuthorizePayment', 'dynamodb:UpdateItem', pk.stock)).toBe(false);
    expect(can('Saga/ReleaseStock', 'dynamodb:UpdateItem', pk.stock)).toBe(true);
    expect(can('Saga/ReserveStock', 'dynamodb:PutItem', pk.outbox)).toBe(false);
    expect(can('Saga/ConfirmOrder', 'dynamodb:PutItem', pk.outbox)).toBe(true);
  });

  it('lets the relay act on outbox items only, though the stream carries every item', () => {
    const relay = 'OutboxRelay/Handler';
    expect(can(relay, 'dynamodb:UpdateItem', pk.outbox)).toBe(true);
    expect(ALL_KEYS.filter((key) => can(relay, 'dynamodb:UpdateItem', key))).toEqual([pk.outbox]);
    expect(ALL_KEYS.filter((key) => can(relay, 'dynamodb:BatchGetItem', key))).toEqual([pk.outbox]);
  });

  it('lets only the reconciler, the payment step and the saga starter (the line of held orders) query the Open index, and only for open orders', () => {
    const query = 'dynamodb:Query';
    const openOrderReaders = ['Operations/Reconciler', 'Saga/AuthorizePayment', 'Saga/Starter'];
    for (const path of openOrderReaders) {
      expect(can(path, query, OPEN_ORDER, Data.OPEN_INDEX), path).toBe(true);
      expect(can(path, query, OPEN_OUTBOX_PENDING, Data.OPEN_INDEX), path).toBe(false);
      expect(can(path, query, OPEN_OUTBOX_FAILED, Data.OPEN_INDEX), path).toBe(false);
    }
    for (const f of functions) {
      // The operator API (the web console) reads both indexes: checked on its own below.
      if (f.path === OPERATOR_API) continue;
      expect(can(f.path, query, 'CLIENT#alice', Data.BY_CLIENT_INDEX), f.path).toBe(false);
      if (!openOrderReaders.includes(f.path)) {
        expect(can(f.path, query, OPEN_ORDER, Data.OPEN_INDEX), f.path).toBe(false);
      }
    }
  });

  it("lets the operator API read the console's index partitions and items, change only what a redrive or replay changes, and scan nothing", () => {
    const query = 'dynamodb:Query';
    for (const partition of [OPEN_ORDER, OPEN_OUTBOX_FAILED])
      expect(can(OPERATOR_API, query, partition, Data.OPEN_INDEX), partition).toBe(true);
    // PENDING outbox items are in no index (functions/outbox/outbox.ts): nothing to read there.
    expect(can(OPERATOR_API, query, OPEN_OUTBOX_PENDING, Data.OPEN_INDEX)).toBe(false);
    expect(can(OPERATOR_API, query, 'CLIENT#alice', Data.BY_CLIENT_INDEX)).toBe(true);
    // Not the other partitions of the Open index, nor the Settled index (the export's own).
    expect(can(OPERATOR_API, query, 'WEBHOOK#PENDING', Data.OPEN_INDEX)).toBe(false);
    expect(can(OPERATOR_API, query, 'SETTLED#2026-12-01', Data.SETTLED_INDEX)).toBe(false);
    // It never reads an API key or an idempotency record, and creates or deletes nothing.
    for (const action of [...READS, ...WRITES]) {
      expect(can(OPERATOR_API, action, pk.apiKey), action).toBe(false);
      expect(can(OPERATOR_API, action, pk.idempotency), action).toBe(false);
    }
    for (const key of ALL_KEYS) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'])
        expect(can(OPERATOR_API, action, key), `${action} ${key}`).toBe(false);
    }
    expect(fn(OPERATOR_API).statements.flatMap(actionsOf)).not.toContain('dynamodb:Scan');
  });

  it('refuses an item grant that a LeadingKeys condition cannot scope', () => {
    const getOrder = synth.stack.api.handlers.GetOrder as BuzzerFunction;
    const table = synth.stack.data.table;
    expect(() =>
      getOrder.grantItems(table, { prefixes: ['ORDER#'], actions: ['dynamodb:Scan' as never] }),
    ).toThrow(/cannot be scoped/);
    expect(() => getOrder.grantItems(table, { prefixes: ['ORDER'], actions: ['dynamodb:GetItem'] })).toThrow(
      /key prefix/,
    );
    expect(() => getOrder.grantItems(table, { prefixes: ['*'], actions: ['dynamodb:GetItem'] })).toThrow(
      /key prefix/,
    );
    expect(() => getOrder.grantItems(table, { prefixes: [], actions: ['dynamodb:GetItem'] })).toThrow(
      /prefix/,
    );
  });
});

/**
 * Grants made ahead of the code by other slices of issue 11 (they land together): accept-order reads prices from
 * the catalogue; create/delete-webhook keep a per-client webhook count in the client's partition.
 */
const GRANTED_AHEAD: Record<string, { actions?: string[]; prefixes?: string[] }> = {
  'orders/accept-order.ts': { actions: ['dynamodb:BatchGetItem'], prefixes: ['STOCK#'] },
  'webhooks/create-webhook.ts': { actions: ['dynamodb:UpdateItem'] },
  'webhooks/delete-webhook.ts': { actions: ['dynamodb:UpdateItem'] },
};

const ENTRIES = Object.keys(TABLE_ACCESS);
const grantedActions = (access: TableAccess): Set<string> => new Set(access.items.flatMap((g) => g.actions));
const grantedPrefixes = (access: TableAccess): Set<string> =>
  new Set(access.items.flatMap((g) => g.prefixes));
const grantedOpen = (access: TableAccess): Set<string> =>
  new Set(
    (access.indexes ?? []).filter((i) => i.index === Data.OPEN_INDEX).flatMap((i) => i.partitions ?? []),
  );
const grantedSettled = (access: TableAccess): Set<string> =>
  new Set(
    (access.indexes ?? [])
      .filter((i) => i.index === Data.SETTLED_INDEX)
      .flatMap((i) => i.partitionPrefixes ?? []),
  );

describe('declared table access (lib/constructs/table-access.ts)', () => {
  it('is declared for exactly the functions that are given the table', () => {
    const withTable = functions.filter((f) => 'TABLE_NAME' in f.environment).map((f) => f.entry);
    expect(withTable.sort()).toEqual([...ENTRIES].sort());
    for (const f of functions.filter((f) => !('TABLE_NAME' in f.environment))) {
      expect(f.statements.filter(onTable), f.path).toEqual([]);
    }
  });

  it('is what the template grants, statement for statement', () => {
    const normalize = (s: Statement) => ({
      actions: actionsOf(s).sort(),
      resources: resourcesOf(s),
      condition: Object.fromEntries(
        Object.entries(s.Condition ?? {}).map(([op, c]) => [
          op,
          Object.fromEntries(Object.entries(c).map(([k, v]) => [k, [v].flat().sort()])),
        ]),
      ),
    });
    const declared = functions.filter((f) => TABLE_ACCESS[f.entry]);
    expect(declared.map((f) => f.entry).sort()).toEqual([...ENTRIES].sort());
    for (const f of declared) {
      const access = TABLE_ACCESS[f.entry] as TableAccess;
      const expected = [
        ...access.items.map((g) => ({
          actions: [...g.actions].sort(),
          resources: [tableArn],
          condition: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': g.prefixes.map((p) => `${p}*`).sort() },
          },
        })),
        ...(access.indexes ?? []).flatMap((g) => [
          ...(g.partitions
            ? [
                {
                  actions: ['dynamodb:Query'],
                  resources: [`${tableArn}/index/${g.index}`],
                  condition: {
                    'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...g.partitions].sort() },
                  },
                },
              ]
            : []),
          ...(g.partitionPrefixes
            ? [
                {
                  actions: ['dynamodb:Query'],
                  resources: [`${tableArn}/index/${g.index}`],
                  condition: {
                    'ForAllValues:StringLike': {
                      'dynamodb:LeadingKeys': g.partitionPrefixes.map((p) => `${p}*`).sort(),
                    },
                  },
                },
              ]
            : []),
        ]),
      ];
      expect(f.statements.filter(onTable).map(normalize), f.entry).toEqual(expected);
    }
  });

  // The local runtime ignores IAM, so the e2e suite cannot notice a grant that is too narrow; this reads each
  // handler's bundle instead (test/infra/handler-access.ts says what it can and cannot see).
  it.each(ENTRIES)(
    'covers every key prefix, action and index partition the code of %s uses',
    async (entry) => {
      const access = TABLE_ACCESS[entry] as TableAccess;
      const code = await handlerAccess(entry);

      expect(code.unrecognized).toEqual([]);
      expect(code.prefixes.size + code.settledPrefixes.size, 'the scan found no key at all').toBeGreaterThan(
        0,
      );
      const actions = grantedActions(access);
      if ((access.indexes ?? []).length > 0) actions.add('dynamodb:Query');
      expect(
        [...code.actions].filter((a) => !actions.has(a)),
        'actions used but not granted',
      ).toEqual([]);
      const prefixes = grantedPrefixes(access);
      expect(
        [...code.prefixes].filter((p) => !prefixes.has(p)),
        'prefixes used but not granted',
      ).toEqual([]);
      const open = grantedOpen(access);
      expect(
        [...code.openPartitions].filter((p) => !open.has(p)),
        'Open partitions not granted',
      ).toEqual([]);
      const settled = grantedSettled(access);
      expect(
        [...code.settledPrefixes].filter((p) => !settled.has(p)),
        'Settled index partitions not granted',
      ).toEqual([]);
      expect(
        [...code.otherIndexes].filter((index) => !(access.indexes ?? []).some((g) => g.index === index)),
        'indexes queried but not granted',
      ).toEqual([]);
    },
  );

  it.each(ENTRIES)('grants %s nothing its code does not use', async (entry) => {
    const access = TABLE_ACCESS[entry] as TableAccess;
    const code = await handlerAccess(entry);
    const ahead = GRANTED_AHEAD[entry] ?? {};

    const unusedActions = [...grantedActions(access)].filter(
      (a) => !code.actions.has(a) && !ahead.actions?.includes(a),
    );
    expect(unusedActions).toEqual([]);
    const unusedPrefixes = [...grantedPrefixes(access)].filter(
      (p) => !code.prefixes.has(p) && !ahead.prefixes?.includes(p),
    );
    expect(unusedPrefixes).toEqual([]);
    expect([...grantedOpen(access)].filter((p) => !code.openPartitions.has(p))).toEqual([]);
    expect([...grantedSettled(access)].filter((p) => !code.settledPrefixes.has(p))).toEqual([]);
  });
});
