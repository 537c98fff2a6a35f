import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { INDEXES } from '#contracts/table.ts';
import { deliveryKeys } from '#functions/webhooks/deliveries.ts';
import { settledPartition } from '#shared/settled-index.ts';
import {
  clientPartition,
  keys,
  OPEN_ORDER,
  OPEN_OUTBOX_FAILED,
  OPEN_OUTBOX_PENDING,
  pointsPartition,
} from '#shared/table-keys.ts';

/**
 * What a handler's code can do to the table, read from its bundle. The bundle is what Lambda runs: esbuild drops the
 * shared code the handler cannot reach (tree shaking), so a key builder or command that shows up here is on one of
 * the handler's code paths. It over-approximates (a branch that never runs still counts) and it cannot pair a command
 * with the key it is sent with: it finds a missing prefix or a missing action, not a missing (action, prefix) pair.
 */
export interface HandlerAccess {
  /** DynamoDB permissions the commands in the bundle need (a transaction counts as the actions it contains). */
  actions: Set<string>;
  /** Partition key prefixes of the keys the bundle builds (`ORDER#`, …). */
  prefixes: Set<string>;
  /** Partitions of the Open index the bundle queries (`ORDER#PENDING`, …). */
  openPartitions: Set<string>;
  /** Partition prefixes of the Settled index the bundle queries (`SETTLED#`, through querySettledPage). */
  settledPrefixes: Set<string>;
  /** Other indexes the bundle queries by name (`IndexName: INDEXES.ByClient`); their partitions count as key prefixes. */
  otherIndexes: Set<string>;
  /** Key expressions the scan could not attribute to a prefix: each one needs a rule below, or the test fails. */
  unrecognized: string[];
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const prefixOf = (pk: string): string => pk.slice(0, pk.indexOf('#') + 1);

/** `keys.<builder>` → prefix, by calling every builder (a new builder is covered without touching this file). */
const BUILDER_PREFIX: Record<string, string> = Object.fromEntries(
  Object.entries(keys).map(([name, builder]) => [
    name,
    prefixOf((builder as (...args: string[]) => { pk: string })('a', 'b', 'c').pk),
  ]),
);

/** Functions that return a partition key value, as they are called in key positions (`pk:` / `":pk":`). */
const PARTITION_HELPERS: Record<string, string> = {
  clientPartition: prefixOf(clientPartition('a')),
  pointsPartition: prefixOf(pointsPartition('a', 'b')),
  // functions/webhooks/deliveries.ts, module-private: the endpoint's partition of deliveries and attempts.
  endpointPartition: prefixOf(deliveryKeys.delivery('a', 'b').pk),
};

const OPEN_PARTITIONS: Record<string, string> = { OPEN_ORDER, OPEN_OUTBOX_PENDING, OPEN_OUTBOX_FAILED };

/** Keys taken from data rather than built: where, and why their prefix is known. */
const DYNAMIC_KEYS: Record<string, { expression: RegExp; prefix: string }> = {
  // Stream images: outboxItemSchema requires pk to start with OUTBOX#, and a poison image is only marked FAILED
  // after the same startsWith check; the other `pk: image.pk` are log fields.
  'functions/outbox/relay.ts': { expression: /^(item|image)\.pk\b/, prefix: 'OUTBOX#' },
};

const GET = 'dynamodb:GetItem';
const QUERY = 'dynamodb:Query';
/** Names the DynamoDB packages export, as the bundle imports them → the permissions a use of each needs. */
const DYNAMODB_EXPORTS: Record<string, string[]> = {
  GetCommand: [GET],
  GetItemCommand: [GET],
  PutCommand: ['dynamodb:PutItem'],
  PutItemCommand: ['dynamodb:PutItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  UpdateItemCommand: ['dynamodb:UpdateItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  DeleteItemCommand: ['dynamodb:DeleteItem'],
  QueryCommand: [QUERY],
  paginateQuery: [QUERY],
  BatchGetCommand: ['dynamodb:BatchGetItem'],
  BatchGetItemCommand: ['dynamodb:BatchGetItem'],
  BatchWriteCommand: ['dynamodb:BatchWriteItem'],
  BatchWriteItemCommand: ['dynamodb:BatchWriteItem'],
  TransactGetCommand: [GET],
  TransactGetItemsCommand: [GET],
  // The contained actions are counted from the transaction items (below).
  TransactWriteCommand: [],
  TransactWriteItemsCommand: [],
  ScanCommand: ['dynamodb:Scan'],
  paginateScan: ['dynamodb:Scan'],
  ExecuteStatementCommand: ['dynamodb:PartiQL'],
  // Clients: no table access of their own.
  DynamoDBClient: [],
  DynamoDBDocumentClient: [],
};
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** Bundles the handler (functions/<entry>) the way Lambda gets it, minus minification, with packages left out. */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [path.join(projectRoot, 'functions', entry)],
    absWorkingDir: projectRoot,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no bundle for ${entry}`);
  return output.text;
}

/**
 * The bundle cut at esbuild's module markers (`// functions/…`, `// ops/…`, …): [module path, code]. Every module of
 * the project is a section of its own, so what one module does is never read as another's.
 */
function modules(code: string): Array<[string, string]> {
  const parts = code.split(/^\/\/ ((?:functions|ops|contracts|local|chaos|bench|lib)\/\S+\.ts)$/m);
  const sections: Array<[string, string]> = [['(prelude)', parts[0] ?? '']];
  for (let i = 1; i < parts.length; i += 2) sections.push([parts[i] ?? '', parts[i + 1] ?? '']);
  return sections;
}

const SKIP = Symbol('not a key of its own');

/** The prefix of the key written after `pk:` in `module`, SKIP when it is no key to count here, else undefined. */
function keyPrefix(module: string, rest: string): string | typeof SKIP | undefined {
  const literal = /^`([A-Z]+#)/.exec(rest)?.[1];
  if (literal) return literal;
  const helper = /^([A-Za-z]+?)\d*\(/.exec(rest)?.[1];
  if (helper && PARTITION_HELPERS[helper]) return PARTITION_HELPERS[helper];
  if (/^keys\d*\./.test(rest)) return SKIP; // `keys.outbox(id).pk`: the builder call is counted on its own
  if (/^(z\d*\.)?string\(\)/.test(rest)) return SKIP; // a schema field
  if (module === 'functions/shared/open-index.ts' && /^openPk\b/.test(rest)) return SKIP; // an index query
  // The Settled index's partition, counted as an index query below, not as an item key.
  if (module === 'functions/shared/settled-index.ts' && /^settledPartition\(/.test(rest)) return SKIP;
  const dynamic = DYNAMIC_KEYS[module];
  if (dynamic?.expression.test(rest)) return dynamic.prefix;
  return undefined;
}

export async function handlerAccess(entry: string): Promise<HandlerAccess> {
  const code = await bundle(entry);
  const access: HandlerAccess = {
    actions: new Set(),
    prefixes: new Set(),
    openPartitions: new Set(),
    settledPrefixes: new Set(),
    otherIndexes: new Set(),
    unrecognized: [],
  };

  // Commands: every name imported from the DynamoDB packages (possibly renamed `X as X2`) that the code uses.
  const used = (local: string): boolean =>
    new RegExp(`(?<![\\w$.])${local.replace(/\$/g, '\\$')}\\(`).test(code);
  for (const [, names] of code.matchAll(
    /import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/(?:lib|client)-dynamodb"/g,
  )) {
    for (const spec of (names ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [exported = '', local = exported] = spec.split(/\s+as\s+/);
      const actions = DYNAMODB_EXPORTS[exported];
      if (!actions) {
        access.unrecognized.push(`${entry}: import ${exported} from the DynamoDB packages`);
        continue;
      }
      if (!used(local)) continue;
      for (const action of actions) access.actions.add(action);
      if (exported.startsWith('TransactWrite')) {
        for (const [, kind] of code.matchAll(/\b(Put|Update|Delete|ConditionCheck):\s*\{/g)) {
          access.actions.add(TRANSACT_ITEM_ACTIONS[kind ?? ''] ?? '');
        }
      }
    }
  }

  for (const [module, section] of modules(code)) {
    // keys.ts defines the builders; whether a handler uses one is decided where it is called.
    if (module === 'functions/shared/table-keys.ts') continue;
    for (const [, name] of section.matchAll(/\bkeys\d*\.(\w+)\(/g)) {
      const prefix = BUILDER_PREFIX[name ?? ''];
      if (prefix) access.prefixes.add(prefix);
      else access.unrecognized.push(`${module}: keys.${name}(`);
    }
    // Every key written out by hand: `pk: …` in a key, `":pk": …` as a Query's partition value.
    for (const [, rest = ''] of section.matchAll(/(?:(?<![\w$."])pk|":pk")\s*:\s*([^\n]{0,80})/g)) {
      const found = keyPrefix(module, rest);
      if (found === undefined) access.unrecognized.push(`${module}: pk: ${rest}`);
      else if (found !== SKIP) access.prefixes.add(found);
    }
    const indexModule =
      module === 'functions/shared/open-index.ts' || module === 'functions/shared/settled-index.ts';
    if (!indexModule) {
      for (const [, named] of section.matchAll(/\bIndexName\b\s*:?\s*([\w$.]*)/g)) {
        const index = /^INDEXES\d*\.(\w+)$/.exec(named ?? '')?.[1];
        if (index && index in INDEXES && index !== 'Open' && index !== 'Settled') {
          access.otherIndexes.add(INDEXES[index as keyof typeof INDEXES]);
        } else {
          access.unrecognized.push(
            `${module}: a Query on an index other than through queryOpenItems or querySettledPage`,
          );
        }
      }
    }
    if (
      module !== 'functions/shared/settled-index.ts' &&
      /(?<!function )\bquerySettledPage\d*\(/.test(section)
    ) {
      access.settledPrefixes.add(prefixOf(settledPartition('a')));
    }
    for (const [, constant = ''] of section.matchAll(
      /(?<!function )\bqueryOpenItems(?:Whole)?\d*\(\s*[\w$]+,\s*([\w$]+)/g,
    )) {
      // The index module's own call passes its caller's partition on; the callers' calls name it.
      if (module === 'functions/shared/open-index.ts' && constant === 'openPk') continue;
      const partition = OPEN_PARTITIONS[constant.replace(/\d+$/, '')];
      if (partition) access.openPartitions.add(partition);
      else access.unrecognized.push(`${module}: queryOpenItems(…, ${constant})`);
    }
  }
  return access;
}
