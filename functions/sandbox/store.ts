/**
 * The sandbox's own DynamoDB table (`SANDBOX_TABLE_NAME`, string keys `pk`/`sk`). State lives here rather than in
 * memory because the provider runs on many Lambda instances (or runtime workers) and tests ask any of them.
 *
 * | entity | pk | sk |
 * |---|---|---|
 * | `Calls` (attempt counter and the time of every attempt) | `CHARGE#<key>` / `REFUND#<key>` / `MAIL#<key>` / `LOOKUP#<orderId>` | `CALLS` |
 * | `Charge` | `CHARGE#<key>` | `CHARGE` |
 * | `ChargeRef` (a charge's id and order, so refunds and look-ups by order find it) | `CHARGEID#<id>`, `ORDER#<orderId>` | `CHARGEREF`, `CHARGE#<id>` |
 * | `Refund` | `REFUND#<key>` | `REFUND` |
 * | `Mail` | `MAIL#<key>` | `MAIL` |
 * | `Faults` | `FAULTS` | `FAULTS` |
 *
 * The counter shares the partition of the effect it counts, so one key's attempts and effect sit side by side.
 * Effects are written with `attribute_not_exists(pk)`: of two concurrent requests with one key exactly one writes.
 */
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  paginateScan,
  type ScanCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

export type EffectKind = 'CHARGE' | 'REFUND' | 'MAIL';
/** What a call to the sandbox was: an effect, or a look-up of an order's charges (`GET /v1/charges?orderId=`). */
export type CallKind = EffectKind | 'LOOKUP';
export const CALL_KINDS = ['CHARGE', 'REFUND', 'MAIL', 'LOOKUP'] as const satisfies readonly CallKind[];

/** One request that reached the sandbox, as `GET /v1/calls` lists it. */
export interface CallRecord {
  kind: CallKind;
  key: string;
  at: string;
}

export interface ChargeRecord {
  entity: 'Charge';
  id: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  token: string;
  orderId: string;
  createdAt: string;
  /** Set, once, by the refund that paid this charge back. */
  refundKey?: string;
  refundId?: string;
}

/** Points from a charge's id, or from its order, to the charge's idempotency key. */
export interface ChargeRef {
  entity: 'ChargeRef';
  chargeId: string;
  idempotencyKey: string;
  orderId: string;
}

export interface RefundRecord {
  entity: 'Refund';
  id: string;
  idempotencyKey: string;
  /** Id of the refunded charge (`ch_…`), as the caller named it. */
  charge: string;
  /** Idempotency key the refunded charge was created with. */
  chargeKey: string;
  amount: number;
  currency: string;
  createdAt: string;
}

export interface MailRecord {
  entity: 'Mail';
  id: string;
  idempotencyKey: string;
  to: string;
  subject: string;
  text: string;
  orderId?: string;
  createdAt: string;
}

export interface FaultsRecord {
  paymentLatencyMs: number;
  paymentFailureRate: number;
  mailBroken: boolean;
  mailFailureRate: number;
}

interface RecordByKind {
  CHARGE: ChargeRecord;
  REFUND: RefundRecord;
  MAIL: MailRecord;
}

const RECORD_SK: Record<EffectKind, string> = { CHARGE: 'CHARGE', REFUND: 'REFUND', MAIL: 'MAIL' };
const CALLS_SK = 'CALLS';
const FAULTS_KEY = { pk: 'FAULTS', sk: 'FAULTS' };
// BatchGetItem takes at most 100 keys per request.
const BATCH_GET_LIMIT = 100;
const BATCH_GET_ATTEMPTS = 5;

export const effectPk = (kind: CallKind, key: string): string => `${kind}#${key}`;
const chargeIdPk = (chargeId: string): string => `CHARGEID#${chargeId}`;
const orderPk = (orderId: string): string => `ORDER#${orderId}`;
const CHARGE_REF_SK = 'CHARGEREF';

type Item = Record<string, unknown>;

export class SandboxTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /**
   * Counts one attempt atomically (ADD), so concurrent calls never lose a count, and appends its time (a test counts
   * how often a provider behind a circuit breaker was tried during an outage). Returns the count including it.
   */
  async countCall(kind: CallKind, key: string, at: Date): Promise<number> {
    const result = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: effectPk(kind, key), sk: CALLS_SK },
        UpdateExpression:
          'ADD #calls :one SET #entity = :entity, #kind = :kind, #key = :key, #lastCallAt = :at, ' +
          '#callTimes = list_append(if_not_exists(#callTimes, :none), :times)',
        ExpressionAttributeNames: {
          '#calls': 'calls',
          '#entity': 'entity',
          '#kind': 'kind',
          '#key': 'idempotencyKey',
          '#lastCallAt': 'lastCallAt',
          '#callTimes': 'callTimes',
        },
        ExpressionAttributeValues: {
          ':one': 1,
          ':entity': 'Calls',
          ':kind': kind,
          ':key': key,
          ':at': at.toISOString(),
          ':none': [],
          ':times': [at.toISOString()],
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return numberOr(result.Attributes?.calls, 1);
  }

  /** Every call counted at or after `since`, oldest first. */
  async callsSince(since: Date): Promise<CallRecord[]> {
    const items = await this.scanAll({
      TableName: this.tableName,
      FilterExpression: '#entity = :calls',
      ProjectionExpression: '#kind, #key, #callTimes',
      ExpressionAttributeNames: {
        '#entity': 'entity',
        '#kind': 'kind',
        '#key': 'idempotencyKey',
        '#callTimes': 'callTimes',
      },
      ExpressionAttributeValues: { ':calls': 'Calls' },
      ConsistentRead: true,
    });
    const from = since.toISOString();
    return items
      .flatMap((item) =>
        (Array.isArray(item.callTimes) ? item.callTimes : [])
          .filter((at): at is string => typeof at === 'string' && at >= from)
          .map((at) => ({ kind: item.kind as CallKind, key: String(item.idempotencyKey), at })),
      )
      .sort((a, b) => a.at.localeCompare(b.at));
  }

  async getCalls(kind: EffectKind, key: string): Promise<number> {
    const item = await this.getItem(effectPk(kind, key), CALLS_SK);
    return numberOr(item?.calls, 0);
  }

  /** Attempt counts of many keys of one kind; keys never called count 0. */
  async getCallsMany(kind: EffectKind, keys: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>(keys.map((key) => [key, 0]));
    const unique = [...counts.keys()];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      const chunk = unique.slice(start, start + BATCH_GET_LIMIT);
      for (const item of await this.batchGet(
        chunk.map((key) => ({ pk: effectPk(kind, key), sk: CALLS_SK })),
      )) {
        if (typeof item.idempotencyKey === 'string') counts.set(item.idempotencyKey, numberOr(item.calls, 0));
      }
    }
    return counts;
  }

  async getRecord<K extends EffectKind>(kind: K, key: string): Promise<RecordByKind[K] | undefined> {
    const item = await this.getItem(effectPk(kind, key), RECORD_SK[kind]);
    // The table is written only by this module, so the item has the shape this module gave it.
    return item as RecordByKind[K] | undefined;
  }

  /** Writes the mail unless one exists for the key. Returns false when another request got there first. */
  async putMailOnce(record: MailRecord): Promise<boolean> {
    return this.putOnce(effectPk('MAIL', record.idempotencyKey), RECORD_SK.MAIL, record);
  }

  /**
   * Records the charge under its key and the references that find it by id and by order, in one transaction.
   * Returns false when a charge with the key exists (another request got there first) or the write collided.
   */
  async putChargeOnce(charge: ChargeRecord): Promise<boolean> {
    const ref: ChargeRef = {
      entity: 'ChargeRef',
      chargeId: charge.id,
      idempotencyKey: charge.idempotencyKey,
      orderId: charge.orderId,
    };
    return this.transactOnce([
      {
        Put: {
          TableName: this.tableName,
          Item: { pk: effectPk('CHARGE', charge.idempotencyKey), sk: RECORD_SK.CHARGE, ...charge },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { pk: chargeIdPk(charge.id), sk: CHARGE_REF_SK, ...ref },
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { pk: orderPk(charge.orderId), sk: `CHARGE#${charge.id}`, ...ref },
        },
      },
    ]);
  }

  /** The charge with provider id `chargeId`, if any. */
  async getChargeById(chargeId: string): Promise<ChargeRecord | undefined> {
    const ref = await this.getItem(chargeIdPk(chargeId), CHARGE_REF_SK);
    if (typeof ref?.idempotencyKey !== 'string') return undefined;
    return this.getRecord('CHARGE', ref.idempotencyKey);
  }

  /** Every charge recorded for the order (in charge id order, not time). */
  async chargesOfOrder(orderId: string): Promise<ChargeRecord[]> {
    const refs: Item[] = [];
    for await (const page of paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :charge)',
        ExpressionAttributeValues: { ':pk': orderPk(orderId), ':charge': 'CHARGE#' },
        ConsistentRead: true,
      },
    )) {
      refs.push(...(page.Items ?? []));
    }
    const charges: ChargeRecord[] = [];
    for (const ref of refs) {
      if (typeof ref.idempotencyKey !== 'string') continue;
      const charge = await this.getRecord('CHARGE', ref.idempotencyKey);
      if (charge) charges.push(charge);
    }
    return charges;
  }

  /** Writes the items atomically; false when a condition failed or the transaction collided with another one. */
  private async transactOnce(items: TransactWriteCommandInput['TransactItems']): Promise<boolean> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'TransactionCanceledException')) return false;
      throw error;
    }
  }

  private async putOnce(pk: string, sk: string, record: object): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk, sk, ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw error;
    }
  }

  /**
   * Records the refund and marks the charge refunded in one transaction, so a charge is paid back at most once
   * however many refund keys arrive. Returns false when a condition failed or the transaction collided with
   * another one; the caller reads the table again to learn which.
   */
  async recordRefund(refund: RefundRecord, at: Date): Promise<boolean> {
    return this.transactOnce([
      {
        Put: {
          TableName: this.tableName,
          Item: { pk: effectPk('REFUND', refund.idempotencyKey), sk: RECORD_SK.REFUND, ...refund },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: { pk: effectPk('CHARGE', refund.chargeKey), sk: RECORD_SK.CHARGE },
          UpdateExpression: 'SET #refundKey = :refundKey, #refundId = :refundId, #refundedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#refundKey)',
          ExpressionAttributeNames: {
            '#refundKey': 'refundKey',
            '#refundId': 'refundId',
            '#refundedAt': 'refundedAt',
          },
          ExpressionAttributeValues: {
            ':refundKey': refund.idempotencyKey,
            ':refundId': refund.id,
            ':at': at.toISOString(),
          },
        },
      },
    ]);
  }

  /** Every recorded mail (all pages), narrowed by equality on `to` and/or `orderId`. */
  async scanMail(where: { to?: string; orderId?: string }): Promise<MailRecord[]> {
    const names: Record<string, string> = { '#entity': 'entity' };
    const values: Record<string, unknown> = { ':entity': 'Mail' };
    const conditions = ['#entity = :entity'];
    Object.entries(where).forEach(([attribute, value], index) => {
      if (value === undefined) return;
      names[`#w${index}`] = attribute;
      values[`:w${index}`] = value;
      conditions.push(`#w${index} = :w${index}`);
    });
    const items = await this.scanAll({
      TableName: this.tableName,
      FilterExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ConsistentRead: true,
    });
    return items as unknown as MailRecord[];
  }

  /** How many items of each entity the table holds, in one pass that reads only the `entity` attribute. */
  async countByEntity(): Promise<Map<string, number>> {
    const items = await this.scanAll({
      TableName: this.tableName,
      ProjectionExpression: '#entity',
      ExpressionAttributeNames: { '#entity': 'entity' },
      ConsistentRead: true,
    });
    const counts = new Map<string, number>();
    for (const { entity } of items) {
      if (typeof entity === 'string') counts.set(entity, (counts.get(entity) ?? 0) + 1);
    }
    return counts;
  }

  async getFaults(): Promise<Partial<FaultsRecord> | undefined> {
    return (await this.getItem(FAULTS_KEY.pk, FAULTS_KEY.sk)) as Partial<FaultsRecord> | undefined;
  }

  async putFaults(faults: FaultsRecord, at: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...FAULTS_KEY, entity: 'Faults', ...faults, updatedAt: at.toISOString() },
      }),
    );
  }

  private async scanAll(input: ScanCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    for await (const page of paginateScan({ client: this.db }, input)) items.push(...(page.Items ?? []));
    return items;
  }

  private async getItem(pk: string, sk: string): Promise<Item | undefined> {
    // Strongly consistent: a test asks right after the write it wants to see.
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item;
  }

  private async batchGet(keys: Item[]): Promise<Item[]> {
    const items: Item[] = [];
    let pending = keys;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > BATCH_GET_ATTEMPTS) {
        throw new SandboxTableThrottled(`BatchGetItem left ${pending.length} keys unprocessed`);
      }
      const result = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[this.tableName] ?? []));
      pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
    return items;
  }
}

export class SandboxTableThrottled extends Error {
  override name = 'SandboxTableThrottled';
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function isAwsError(error: unknown, name: string): boolean {
  // By name, not instanceof: the error class may come from another copy of the SDK than the one imported here.
  return error instanceof Error && error.name === name;
}
