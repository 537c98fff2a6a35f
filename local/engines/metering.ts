/**
 * A counting proxy in front of the local AWS endpoints (DynamoDB Local, SQS, the EventBridge + Step Functions
 * gateway). It forwards every request unchanged and records what an AWS bill is made of: requests per service,
 * operation and resource, batch entries, and DynamoDB request units computed from item sizes the way on-demand
 * billing counts them. `npm run bench` divides the counts by the orders placed to get the cost per order.
 *
 * DynamoDB Local reports `ConsumedCapacity`, but not reliably for transactions (a transaction of one, two or three
 * items all report 4 units), so write units are computed here from the item images before and after each write:
 * the meter reads the written keys itself (strongly consistent) around the forwarded request. That doubles the read
 * load on DynamoDB Local, which is why only a runtime started with a meter pays it (the cost runs), never the
 * latency runs.
 *
 * What the meter does not see: SQS requests a handler makes with its environment's endpoint (the SDK then sends to
 * the queue URL's host, the engine itself) — in Buzzer only the relay's DLQ sends, which happen on failures only;
 * and DynamoDB Streams reads (the relay's event source mapping), which Lambda does not bill.
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  type AttributeValue,
  BatchGetItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DEFAULT_ACCOUNT } from '../types.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LOOPBACK } from './ports.ts';

/** Engine endpoints the runtime talks to; the meter returns the same shape with its proxies' URLs. */
export interface MeteredEndpoints {
  dynamodb: string;
  sqs: string;
  gateway: string;
}

/** One counter row: requests of one operation on one resource (table, queue, bus, state machine). */
export interface RequestCount {
  /** `dynamodb`, `sqs`, `events`, `states`. */
  service: string;
  operation: string;
  /** Table name, queue name, event bus or state machine name; `''` when the request names none. */
  resource: string;
  requests: number;
  /** Batch entries (PutEvents entries, SendMessageBatch entries) or messages received (ReceiveMessage). */
  entries: number;
  /** Requests the engine answered with an error status. */
  errors: number;
}

/** DynamoDB on-demand request units by table, as AWS would bill them. */
export interface TableCapacity {
  readUnits: number;
  /** Writes to the table itself. */
  writeUnits: number;
  /** Writes to its global secondary indexes (each index write is billed like a table write). */
  indexWriteUnits: number;
}

/**
 * Write units by what was written: one row per table, item kind and target (the table itself, or one of its
 * global secondary indexes), so the cost report can say which item and which index each unit of an order is.
 */
export interface WriteBreakdownRow {
  table: string;
  /** The item's `entity` (Effect items add their consumer: `Effect notify`), else its partition key's prefix. */
  item: string;
  /** `''` for the table itself, else the index name. */
  index: string;
  /** Item writes (table) or index entry writes (an index key change is two: a delete and a put). */
  writes: number;
  units: number;
}

export interface MeterSnapshot {
  requests: RequestCount[];
  capacity: Record<string, TableCapacity>;
  writes: WriteBreakdownRow[];
  /** ReceiveMessage calls that returned no message: pollers' idle long polls, a cost of time, not of orders. */
  emptyReceives: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Item sizes and request units (pure; https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)
// ---------------------------------------------------------------------------------------------------------------

export type WireItem = Record<string, AttributeValue>;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Numbers: about one byte per two significant digits plus one; leading and trailing zeros do not count. */
function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/** Size in bytes of one attribute value (not counting its name). */
export function attributeValueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return binarySize(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + binarySize(b), 0);
  // Lists and maps: 3 bytes of overhead plus 1 byte per element, plus the elements (and, in maps, their names).
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + attributeValueSize(v), 0);
  if (value.M !== undefined) {
    return 3 + Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + utf8(k) + attributeValueSize(v), 0);
  }
  return 0;
}

/** On the wire, binary values are base64 strings; the SDK hands them over as bytes. */
function binarySize(value: unknown): number {
  if (typeof value === 'string') return Buffer.from(value, 'base64').length;
  if (value instanceof Uint8Array) return value.length;
  return 0;
}

/** Item size as DynamoDB bills it: attribute names plus values. */
export function itemSize(item: WireItem | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + attributeValueSize(value), 0);
}

/** Write request units of one item write: 1 per started KB, at least 1. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/** Read request units: 1 per started 4 KB strongly consistent, half of that eventually consistent. */
export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}

export interface IndexSchema {
  name: string;
  /** The index's key attribute names (partition, then sort). */
  keys: string[];
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  nonKeyAttributes: string[];
}

export interface TableSchema {
  keys: string[];
  indexes: IndexSchema[];
}

function projected(item: WireItem, table: TableSchema, index: IndexSchema): WireItem {
  if (index.projection === 'ALL') return item;
  const keep = new Set([...table.keys, ...index.keys, ...index.nonKeyAttributes]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => keep.has(name)));
}

/** JSON with object keys sorted: DynamoDB returns an item's attributes (and a map's entries) in no fixed order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const sameValue = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/** Index entry writes (puts and deletes) and their units. */
export interface IndexWrites {
  entries: number;
  units: number;
}

/**
 * Index writes caused by changing an item from `before` to `after` (either may be absent): an item entering
 * the index is one put, leaving it one delete, changing its index key a delete plus a put, changing projected
 * attributes one put; an item outside the index, or whose projection did not change, costs nothing.
 */
export function indexWrites(
  table: TableSchema,
  index: IndexSchema,
  before: WireItem | undefined,
  after: WireItem | undefined,
): IndexWrites {
  const inIndex = (item: WireItem | undefined): item is WireItem =>
    item !== undefined && index.keys.every((key) => item[key] !== undefined);
  const one = (entry: WireItem): IndexWrites => ({ entries: 1, units: writeUnits(itemSize(entry)) });
  const none = { entries: 0, units: 0 };
  const was = inIndex(before);
  const is = inIndex(after);
  if (was && !is) return one(projected(before, table, index));
  if (!was && is) return one(projected(after, table, index));
  if (!was || !is) return none;
  const oldEntry = projected(before, table, index);
  const newEntry = projected(after, table, index);
  if (!index.keys.every((key) => sameValue(before[key], after[key]))) {
    return { entries: 2, units: one(oldEntry).units + one(newEntry).units };
  }
  return sameValue(oldEntry, newEntry) ? none : one(newEntry);
}

export function indexWriteUnits(
  table: TableSchema,
  index: IndexSchema,
  before: WireItem | undefined,
  after: WireItem | undefined,
): number {
  return indexWrites(table, index, before, after).units;
}

/** What kind of item a write touched, for the breakdown: its `entity` (and an effect's consumer), else its key prefix. */
export function itemKind(item: WireItem | undefined, key: WireItem): string {
  const entity = item?.entity?.S;
  if (entity) return entity === 'Effect' && item?.consumer?.S ? `Effect ${item.consumer.S}` : entity;
  const pk = Object.values(key)[0]?.S ?? '';
  return pk.split('#')[0] || '?';
}

/**
 * Units of one item write. The table pays for the larger of the two images (a failed condition still pays for
 * the item it looked at); a transactional write pays twice (prepare and commit). Index writes are billed once.
 */
export function itemWriteCost(
  table: TableSchema,
  before: WireItem | undefined,
  after: WireItem | undefined,
  transactional: boolean,
): { writeUnits: number; indexWriteUnits: number } {
  const base = writeUnits(Math.max(itemSize(before), itemSize(after)));
  return {
    writeUnits: transactional ? 2 * base : base,
    indexWriteUnits: table.indexes.reduce(
      (sum, index) => sum + indexWriteUnits(table, index, before, after),
      0,
    ),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Request classification
// ---------------------------------------------------------------------------------------------------------------

const TARGET_SERVICES: Record<string, string> = {
  DynamoDB_20120810: 'dynamodb',
  AmazonSQS: 'sqs',
  AWSEvents: 'events',
  AWSStepFunctions: 'states',
};

/** `X-Amz-Target: AmazonSQS.SendMessage` → `{service: 'sqs', operation: 'SendMessage'}`; query protocol as fallback. */
export function classifyRequest(
  headers: IncomingHttpHeaders,
  body: string,
): { service: string; operation: string } {
  const target = String(headers['x-amz-target'] ?? '');
  const dot = target.lastIndexOf('.');
  if (dot > 0) {
    const prefix = target.slice(0, dot);
    return { service: TARGET_SERVICES[prefix] ?? prefix, operation: target.slice(dot + 1) };
  }
  const action = new URLSearchParams(body).get('Action');
  return { service: 'sqs', operation: action ?? 'Unknown' };
}

type Json = Record<string, unknown>;

const asRecord = (value: unknown): Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const lastSegment = (url: unknown): string => (typeof url === 'string' ? (url.split('/').at(-1) ?? '') : '');

/** The resource a request is about and its batch size, from the request (and for receives, the response). */
export function describeRequest(
  service: string,
  operation: string,
  request: Json,
  response: Json,
): { resource: string; entries: number } {
  switch (service) {
    case 'sqs': {
      const resource = lastSegment(request.QueueUrl) || String(request.QueueName ?? '');
      if (operation === 'ReceiveMessage') return { resource, entries: asArray(response.Messages).length };
      return { resource, entries: asArray(request.Entries).length || 1 };
    }
    case 'events': {
      const entries = asArray(request.Entries);
      const bus = asRecord(entries[0]).EventBusName;
      return { resource: typeof bus === 'string' ? lastSegment(bus) : '', entries: entries.length || 1 };
    }
    case 'states': {
      const arn = String(request.stateMachineArn ?? request.executionArn ?? '');
      return { resource: arn.split(':')[6] ?? '', entries: 1 };
    }
    case 'dynamodb': {
      const tables = Object.keys(asRecord(request.RequestItems));
      const transactTable = asArray(request.TransactItems)
        .map((item) => Object.values(asRecord(item))[0])
        .map((action) => asRecord(action).TableName)
        .find((name) => typeof name === 'string');
      const resource = String(request.TableName ?? tables[0] ?? transactTable ?? '');
      return { resource, entries: 1 };
    }
    default:
      return { resource: '', entries: 1 };
  }
}

interface WrittenKey {
  table: string;
  key: WireItem;
  transactional: boolean;
}

const WRITE_OPERATIONS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'TransactWriteItems',
  'BatchWriteItem',
]);

// ---------------------------------------------------------------------------------------------------------------
// The meter
// ---------------------------------------------------------------------------------------------------------------

export class RequestMeter {
  private readonly counts = new Map<string, RequestCount>();
  private readonly capacity = new Map<string, TableCapacity>();
  private readonly writes = new Map<string, WriteBreakdownRow>();
  private readonly schemas = new Map<string, Promise<TableSchema>>();
  private readonly servers: Server[] = [];
  private readonly agent = new Agent({ keepAlive: true });
  private emptyReceives = 0;
  private dynamodb?: DynamoDBClient;

  /** Starts one proxy per engine and returns their URLs, to be used wherever the engines' URLs would be. */
  async route(endpoints: MeteredEndpoints): Promise<MeteredEndpoints> {
    this.dynamodb = new DynamoDBClient({
      endpoint: endpoints.dynamodb,
      region: DEFAULT_ACCOUNT.region,
      credentials: LOCAL_CREDENTIALS,
    });
    const [dynamodb, sqs, gateway] = await Promise.all([
      this.proxy(endpoints.dynamodb),
      this.proxy(endpoints.sqs),
      this.proxy(endpoints.gateway),
    ]);
    return { dynamodb, sqs, gateway };
  }

  snapshot(): MeterSnapshot {
    return {
      requests: [...this.counts.values()].map((row) => ({ ...row })),
      capacity: Object.fromEntries([...this.capacity].map(([table, units]) => [table, { ...units }])),
      writes: [...this.writes.values()].map((row) => ({ ...row })),
      emptyReceives: this.emptyReceives,
    };
  }

  reset(): void {
    this.counts.clear();
    this.capacity.clear();
    this.writes.clear();
    this.emptyReceives = 0;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    this.agent.destroy();
    this.dynamodb?.destroy();
  }

  private async proxy(targetUrl: string): Promise<string> {
    const target = new URL(targetUrl);
    const server = createServer((req, res) => {
      void this.forward(target, req).then(
        (answer) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        },
        (error: unknown) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`metering proxy: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
    });
    // Pollers keep sockets alive between long polls; without this, stop() would wait for them.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, LOOPBACK, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    return `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
  }

  private async forward(
    target: URL,
    req: IncomingMessage,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    const { service, operation } = classifyRequest(req.headers, text);
    const requestJson = parseJson(text);

    const written = service === 'dynamodb' && WRITE_OPERATIONS.has(operation);
    const keys = written ? await this.writtenKeys(operation, requestJson) : [];
    const before = keys.length > 0 ? await this.readImages(keys) : [];

    const answer = await this.send(target, req, body);
    const responseJson = parseJson(decodeBody(answer.headers, answer.body));

    const { resource, entries } = describeRequest(service, operation, requestJson, responseJson);
    const isEmptyReceive = service === 'sqs' && operation === 'ReceiveMessage' && entries === 0;
    if (isEmptyReceive) this.emptyReceives += 1;
    else this.count(service, operation, resource, entries, answer.status >= 400);

    if (service === 'dynamodb') {
      if (keys.length > 0) {
        const after = await this.readImages(keys);
        for (const [i, written] of keys.entries()) {
          const schema = await this.schema(written.table);
          const cost = itemWriteCost(schema, before[i], after[i], written.transactional);
          this.addCapacity(written.table, {
            writeUnits: cost.writeUnits,
            indexWriteUnits: cost.indexWriteUnits,
          });
          const item = itemKind(after[i] ?? before[i], written.key);
          this.addWrites(written.table, item, '', 1, cost.writeUnits);
          for (const index of schema.indexes) {
            const entry = indexWrites(schema, index, before[i], after[i]);
            if (entry.entries > 0)
              this.addWrites(written.table, item, index.name, entry.entries, entry.units);
          }
        }
      } else if (answer.status < 400) {
        this.countReads(operation, requestJson, responseJson);
      }
    }
    return answer;
  }

  private send(
    target: URL,
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      upstream.on('error', reject);
      // A caller that gives up (a poller stopping mid long poll) must not leave the upstream request behind.
      req.once('close', () => {
        if (!req.complete) upstream.destroy();
      });
      upstream.end(body);
    });
  }

  private count(
    service: string,
    operation: string,
    resource: string,
    entries: number,
    failed: boolean,
  ): void {
    const key = `${service}\u0000${operation}\u0000${resource}`;
    const row = this.counts.get(key) ?? { service, operation, resource, requests: 0, entries: 0, errors: 0 };
    row.requests += 1;
    row.entries += entries;
    if (failed) row.errors += 1;
    this.counts.set(key, row);
  }

  private addCapacity(table: string, units: Partial<TableCapacity>): void {
    const row = this.capacity.get(table) ?? { readUnits: 0, writeUnits: 0, indexWriteUnits: 0 };
    row.readUnits += units.readUnits ?? 0;
    row.writeUnits += units.writeUnits ?? 0;
    row.indexWriteUnits += units.indexWriteUnits ?? 0;
    this.capacity.set(table, row);
  }

  private addWrites(table: string, item: string, index: string, writes: number, units: number): void {
    const key = `${table}\u0000${item}\u0000${index}`;
    const row = this.writes.get(key) ?? { table, item, index, writes: 0, units: 0 };
    row.writes += writes;
    row.units += units;
    this.writes.set(key, row);
  }

  private countReads(operation: string, request: Json, response: Json): void {
    const consistent = request.ConsistentRead === true;
    switch (operation) {
      case 'GetItem':
        this.addCapacity(String(request.TableName), {
          readUnits: readUnits(itemSize(asRecord(response.Item) as WireItem), consistent),
        });
        return;
      case 'BatchGetItem':
        for (const [table, spec] of Object.entries(asRecord(request.RequestItems))) {
          const tableConsistent = asRecord(spec).ConsistentRead === true;
          const found = asArray(asRecord(response.Responses)[table]).map((item) =>
            itemSize(item as WireItem),
          );
          const requested = asArray(asRecord(spec).Keys).length;
          const unprocessed = asArray(asRecord(asRecord(response.UnprocessedKeys)[table]).Keys).length;
          const missing = Math.max(0, requested - unprocessed - found.length);
          const units =
            found.reduce((sum, bytes) => sum + readUnits(bytes, tableConsistent), 0) +
            missing * readUnits(0, tableConsistent);
          this.addCapacity(table, { readUnits: units });
        }
        return;
      case 'Query':
      case 'Scan': {
        // Billed on what was read before any filter: scale the returned bytes up to the scanned count.
        const items = asArray(response.Items).map((item) => itemSize(item as WireItem));
        const returned = items.reduce((sum, bytes) => sum + bytes, 0);
        const count = Number(response.Count ?? items.length);
        const scanned = Number(response.ScannedCount ?? count);
        const bytes = count > 0 ? (returned * scanned) / count : 0;
        this.addCapacity(String(request.TableName), { readUnits: readUnits(bytes, consistent) });
        return;
      }
      case 'TransactGetItems':
        for (const [i, item] of asArray(request.TransactItems).entries()) {
          const table = String(asRecord(asRecord(item).Get).TableName);
          const got = asRecord(asArray(response.Responses)[i]).Item;
          this.addCapacity(table, { readUnits: 2 * readUnits(itemSize(asRecord(got) as WireItem), true) });
        }
        return;
      default:
    }
  }

  private async writtenKeys(operation: string, request: Json): Promise<WrittenKey[]> {
    const keyOf = async (table: string, item: Json): Promise<WireItem> => {
      const schema = await this.schema(table);
      return Object.fromEntries(schema.keys.map((name) => [name, item[name] as AttributeValue]));
    };
    const single = async (table: string, action: Json, transactional: boolean): Promise<WrittenKey> => ({
      table,
      key: action.Key ? (asRecord(action.Key) as WireItem) : await keyOf(table, asRecord(action.Item)),
      transactional,
    });
    switch (operation) {
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return [await single(String(request.TableName), request, false)];
      case 'TransactWriteItems': {
        const keys: WrittenKey[] = [];
        for (const item of asArray(request.TransactItems)) {
          const [kind, action] = Object.entries(asRecord(item))[0] ?? [];
          if (!kind || kind === 'ConditionCheck') continue;
          keys.push(await single(String(asRecord(action).TableName), asRecord(action), true));
        }
        return keys;
      }
      case 'BatchWriteItem': {
        const keys: WrittenKey[] = [];
        for (const [table, writes] of Object.entries(asRecord(request.RequestItems))) {
          for (const write of asArray(writes)) {
            const put = asRecord(asRecord(write).PutRequest);
            const del = asRecord(asRecord(write).DeleteRequest);
            keys.push(await single(table, put.Item ? put : del, false));
          }
        }
        return keys;
      }
      default:
        return [];
    }
  }

  /** The current images of the given keys, in order (undefined where there is no item). */
  private async readImages(keys: WrittenKey[]): Promise<Array<WireItem | undefined>> {
    const client = this.dynamodb;
    if (!client) return keys.map(() => undefined);
    const byTable = new Map<string, WireItem[]>();
    for (const { table, key } of keys) byTable.set(table, [...(byTable.get(table) ?? []), key]);
    const found = new Map<string, WireItem>();
    for (const [table, tableKeys] of byTable) {
      let pending: WireItem[] = tableKeys;
      for (let attempt = 0; pending.length > 0 && attempt < 5; attempt++) {
        const result = await client.send(
          new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
        );
        const schema = await this.schema(table);
        for (const item of result.Responses?.[table] ?? []) {
          found.set(keyId(table, schema.keys, item), item);
        }
        pending = result.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
    const images: Array<WireItem | undefined> = [];
    for (const { table, key } of keys) {
      const schema = await this.schema(table);
      images.push(found.get(keyId(table, schema.keys, key)));
    }
    return images;
  }

  private schema(table: string): Promise<TableSchema> {
    let schema = this.schemas.get(table);
    if (!schema) {
      const client = this.dynamodb;
      if (!client) return Promise.resolve({ keys: [], indexes: [] });
      schema = client.send(new DescribeTableCommand({ TableName: table })).then(({ Table }) => ({
        keys: (Table?.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
        indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
          name: index.IndexName ?? '',
          keys: (index.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
          projection: index.Projection?.ProjectionType ?? 'ALL',
          nonKeyAttributes: index.Projection?.NonKeyAttributes ?? [],
        })),
      }));
      this.schemas.set(table, schema);
    }
    return schema;
  }
}

function keyId(table: string, keyNames: string[], item: WireItem): string {
  return JSON.stringify([table, ...keyNames.map((name) => item[name])]);
}

function parseJson(text: string): Json {
  if (!text) return {};
  try {
    return asRecord(JSON.parse(text));
  } catch {
    return {};
  }
}

function decodeBody(headers: IncomingHttpHeaders, body: Buffer): string {
  try {
    return (headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
  } catch {
    return '';
  }
}
