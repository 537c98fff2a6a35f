/**
 * A circuit breaker shared by every instance of every function that calls one provider: its state is one item of the
 * single table (`BREAKER#<name>` / `BREAKER`), changed only by conditional writes, so nothing kept in a Lambda's
 * memory decides whether the provider is called.
 *
 * - CLOSED: every call goes through. A call that fails for the provider's sake (5xx, time-out, unreachable; not a
 *   decline or a refused request: those come from a healthy provider) adds to `failures`; a success resets it. The
 *   failure that brings `failures` to the threshold opens the circuit, by a write conditioned on the version it read,
 *   so concurrent failures open it once.
 * - OPEN until `openUntil`: no call goes through; callers are told when to come back (`retryAt`).
 * - Then HALF_OPEN: the first caller to win a conditional write on the version it read gets a probe lease; exactly one
 *   call tries the provider. Its success closes the circuit, its failure opens it for another interval. A lease that
 *   runs out (the prober crashed) lets the next caller claim a new probe.
 *
 * `since` is when the outage began (the first opening), kept across failed probes, so a hold can say how long the
 * provider has been unavailable.
 */
import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BreakerName, CIRCUIT_STATES, type CircuitStateName } from '#contracts/circuit.ts';
import { METRIC_DIMENSIONS, METRICS } from '#contracts/metrics.ts';
import { conditionHeld, isConditionalCheckFailed, parseItem, type TableDeps } from '#shared/dynamodb.ts';
import { metrics } from '#shared/metrics.ts';
import type { ItemKey } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

export interface CircuitPolicy {
  /** Failed calls in a row that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe may try the provider. */
  openMs: number;
  /** How long the one probing caller has for its call before another caller may probe instead. */
  probeLeaseMs: number;
}

export const breakerKey = (name: BreakerName): ItemKey => ({ pk: `BREAKER#${name}`, sk: 'BREAKER' });

const MAX_ERROR_TEXT = 200;

const snapshotSchema = z.object({
  state: z.enum(CIRCUIT_STATES),
  version: z.number().int(),
  failures: z.number().int(),
  /** When the circuit opened from CLOSED (the outage's start), until it closes again. */
  since: z.string().optional(),
  /** Epoch milliseconds. */
  openUntil: z.number().optional(),
  probeToken: z.string().optional(),
  /** Epoch milliseconds. */
  probeLeaseUntil: z.number().optional(),
  lastFailureAt: z.string().optional(),
  lastError: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type BreakerSnapshot = z.infer<typeof snapshotSchema>;

/** A provider never failed: no item yet. */
export const CLEAN: BreakerSnapshot = Object.freeze({ state: 'CLOSED', version: 0, failures: 0 });

export type Admission =
  | { allowed: true; snapshot: BreakerSnapshot; probe?: string }
  | { allowed: false; snapshot: BreakerSnapshot; retryAt: Date; since: string | undefined };

const isClean = (snapshot: BreakerSnapshot): boolean =>
  snapshot.state === 'CLOSED' && snapshot.failures === 0;

/** Whether a call may be tried now: the circuit is closed, or open long enough (or its probe lease ran out). */
export function probeDue(snapshot: BreakerSnapshot, now: Date): boolean {
  if (snapshot.state === 'CLOSED') return true;
  if (snapshot.state === 'OPEN') return now.getTime() >= (snapshot.openUntil ?? 0);
  return now.getTime() >= (snapshot.probeLeaseUntil ?? 0);
}

/**
 * When a caller the circuit holds now should look again: when an open circuit may be probed; while a probe runs, when
 * its lease ends but no later than `soonMs` from now (a probe usually answers long before its lease runs out); `soonMs`
 * from now when the stored state names no time.
 */
export function nextLook(snapshot: BreakerSnapshot, now: Date, soonMs: number): Date {
  const soon = now.getTime() + soonMs;
  if (snapshot.state === 'OPEN' && snapshot.openUntil !== undefined && snapshot.openUntil > now.getTime()) {
    return new Date(snapshot.openUntil);
  }
  if (snapshot.state === 'HALF_OPEN' && snapshot.probeLeaseUntil !== undefined) {
    return new Date(Math.max(now.getTime(), Math.min(snapshot.probeLeaseUntil, soon)));
  }
  return new Date(soon);
}

/** A circuit as stored, for readers that only look (the saga starter, `buzzer status`). */
export async function readBreaker(deps: TableDeps, name: BreakerName): Promise<BreakerSnapshot> {
  const { Item } = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: breakerKey(name), ConsistentRead: true }),
  );
  return Item ? parseItem(snapshotSchema, Item, `circuit breaker ${name}`) : CLEAN;
}

function countTransition(
  name: typeof METRICS.CircuitOpened | typeof METRICS.CircuitClosed | typeof METRICS.CallsHeld,
  breaker: BreakerName,
): void {
  // A metric of its own: the `breaker` dimension must stay off the invocation's other metrics.
  const single = metrics.singleMetric();
  single.addDimension(METRIC_DIMENSIONS.breaker, breaker);
  single.addMetric(name, MetricUnit.Count, 1);
}

/** `CallsHeld`: a call the open circuit kept from the provider (the caller counts it: only it knows it held). */
export function countHeld(breaker: BreakerName): void {
  countTransition(METRICS.CallsHeld, breaker);
}

export class CircuitBreaker {
  constructor(
    private readonly deps: TableDeps,
    readonly name: BreakerName,
    readonly policy: CircuitPolicy,
    private readonly newToken: () => string = randomUUID,
  ) {}

  private get key(): ItemKey {
    return breakerKey(this.name);
  }

  /** The circuit as stored (strongly consistent): every instance decides from the same state. */
  read(): Promise<BreakerSnapshot> {
    return readBreaker(this.deps, this.name);
  }

  /**
   * May a call go to the provider now? CLOSED: yes. OPEN or a live probe lease: no, with when to look again. Due for a
   * probe: yes for the one caller whose claim wins, no for the others.
   */
  async admit(now = new Date()): Promise<Admission> {
    const snapshot = await this.read();
    if (snapshot.state === 'CLOSED') return { allowed: true, snapshot };
    const held = (retryAt: Date): Admission => ({ allowed: false, snapshot, retryAt, since: snapshot.since });
    if (!probeDue(snapshot, now)) return held(nextLook(snapshot, now, this.policy.openMs));
    const token = this.newToken();
    const claimed = await conditionHeld(
      this.deps.doc.send(
        new UpdateCommand({
          TableName: this.deps.tableName,
          Key: this.key,
          UpdateExpression:
            'SET #state = :halfOpen, probeToken = :token, probeLeaseUntil = :lease, version = version + :one, updatedAt = :now',
          ConditionExpression: 'version = :version',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':halfOpen': 'HALF_OPEN',
            ':token': token,
            ':lease': now.getTime() + this.policy.probeLeaseMs,
            ':one': 1,
            ':now': now.toISOString(),
            ':version': snapshot.version,
          },
        }),
      ),
    );
    if (claimed) return { allowed: true, snapshot, probe: token };
    // Another caller won the probe just now: its answer decides within about an interval.
    return held(new Date(now.getTime() + Math.min(this.policy.openMs, this.policy.probeLeaseMs)));
  }

  /**
   * The provider answered (a success, a decline, a refusal): the circuit closes if it was not closed and clean. A call
   * made without `admit` (a compensation, which must reach the provider) passes no admission.
   */
  async succeeded(admission?: Admission, now = new Date()): Promise<void> {
    if (admission?.allowed && admission.probe !== undefined) {
      if (await this.close(now, { token: admission.probe })) return;
    }
    if (admission?.allowed && admission.probe === undefined) {
      // Saves a write on every healthy call; a streak another caller added since the read is reset by its next success.
      if (isClean(admission.snapshot)) return;
      // A call let through while the circuit was closed may answer after other calls opened it: its success is news
      // from before the outage, so it resets a streak but never closes an open circuit (only the probe does). Else a
      // late answer would close the circuit mid-outage, and every order would try (and fail) its charge again.
      await this.close(now, undefined, { onlyIfClosed: true });
      return;
    }
    await this.close(now);
  }

  /**
   * The provider failed the call (5xx, time-out, unreachable). Returns the circuit's state afterwards: OPEN when this
   * failure opened it (or it was open or probing already), CLOSED while the streak is below the threshold.
   */
  async failed(
    admission: Admission | undefined,
    error: unknown,
    now = new Date(),
  ): Promise<CircuitStateName> {
    const lastError = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(
      0,
      MAX_ERROR_TEXT,
    );
    if (admission?.allowed && admission.probe !== undefined) {
      const reopened = await conditionHeld(
        this.deps.doc.send(
          new UpdateCommand({
            TableName: this.deps.tableName,
            Key: this.key,
            UpdateExpression:
              'SET #state = :open, openUntil = :until, version = version + :one, updatedAt = :now, ' +
              'lastFailureAt = :now, lastError = :error ADD failures :one REMOVE probeToken, probeLeaseUntil',
            ConditionExpression: 'probeToken = :token',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':open': 'OPEN',
              ':until': now.getTime() + this.policy.openMs,
              ':one': 1,
              ':now': now.toISOString(),
              ':error': lastError,
              ':token': admission.probe,
            },
          }),
        ),
      );
      if (reopened) {
        countTransition(METRICS.CircuitOpened, this.name);
        return 'OPEN';
      }
    }
    const { Attributes } = await this.deps.doc.send(
      new UpdateCommand({
        TableName: this.deps.tableName,
        Key: this.key,
        UpdateExpression:
          'SET entity = :entity, breaker = :name, #state = if_not_exists(#state, :closed), ' +
          'version = if_not_exists(version, :zero), updatedAt = :now, lastFailureAt = :now, lastError = :error ' +
          'ADD failures :one',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':entity': 'CircuitBreaker',
          ':name': this.name,
          ':closed': 'CLOSED',
          ':zero': 0,
          ':now': now.toISOString(),
          ':error': lastError,
          ':one': 1,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const counted = Attributes
      ? parseItem(snapshotSchema, Attributes, `circuit breaker ${this.name}`)
      : CLEAN;
    if (counted.state !== 'CLOSED' || counted.failures < this.policy.failureThreshold) return counted.state;
    const opened = await conditionHeld(
      this.deps.doc.send(
        new UpdateCommand({
          TableName: this.deps.tableName,
          Key: this.key,
          UpdateExpression:
            'SET #state = :open, openUntil = :until, since = if_not_exists(since, :now), version = version + :one, updatedAt = :now',
          ConditionExpression: 'version = :version AND #state = :closed',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':open': 'OPEN',
            ':closed': 'CLOSED',
            ':until': now.getTime() + this.policy.openMs,
            ':now': now.toISOString(),
            ':one': 1,
            ':version': counted.version,
          },
        }),
      ),
    );
    if (opened) {
      countTransition(METRICS.CircuitOpened, this.name);
      return 'OPEN';
    }
    // Another caller moved the circuit between the count and the opening (opened it, or closed it with a success).
    return (await this.read()).state;
  }

  /** CLOSED with a clean streak; with a token, only while that probe still holds the lease. True when it wrote. */
  private async close(
    now: Date,
    probe?: { token: string },
    { onlyIfClosed = false }: { onlyIfClosed?: boolean } = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, unknown> = {
      ':closed': 'CLOSED',
      ':zero': 0,
      ':one': 1,
      ':now': now.toISOString(),
    };
    let condition: string;
    if (probe) {
      condition = 'probeToken = :token';
      values[':token'] = probe.token;
    } else if (onlyIfClosed) {
      condition = 'attribute_exists(pk) AND #state = :closed AND failures > :zero';
    } else {
      condition = 'attribute_exists(pk) AND (#state <> :closed OR failures > :zero)';
    }
    try {
      const { Attributes } = await this.deps.doc.send(
        new UpdateCommand({
          TableName: this.deps.tableName,
          Key: this.key,
          UpdateExpression:
            'SET #state = :closed, failures = :zero, version = version + :one, updatedAt = :now ' +
            'REMOVE since, openUntil, probeToken, probeLeaseUntil',
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes?.state !== undefined && Attributes.state !== 'CLOSED') {
        countTransition(METRICS.CircuitClosed, this.name);
      }
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
