import { randomBytes } from 'node:crypto';
import type {
  ApiKeyDefinition,
  Quota,
  Throttle,
  UsagePlanDefinition,
  UsagePlansDefinition,
} from './definition.ts';

/**
 * The account's usage plans and API keys, as API Gateway meters REST API requests with them: a method that requires a
 * key admits a request only under an enabled key that belongs to a plan for the API's stage; each (plan, key) has a
 * token bucket (the plan's rate and burst, or the plan's per-method throttle) and a quota counter per period. Keys and
 * plan keys come from the template and, at run time, from the management API (`./management.ts`), as an operator's
 * `CreateApiKey` + `CreateUsagePlanKey` would add them on AWS.
 */

export interface ApiKey {
  id: string;
  name: string;
  value: string;
  enabled: boolean;
  description?: string;
  customerId?: string;
  createdDate: Date;
  lastUpdatedDate: Date;
}

export type Admission =
  | { outcome: 'admitted'; key: ApiKey; planId: string }
  /** No key, an unknown or disabled key, or a key in no plan for this stage (403 `Forbidden`). */
  | { outcome: 'forbidden'; reason: string }
  /** Over the plan's rate or burst (429 `Too Many Requests`). */
  | { outcome: 'throttled' }
  /** Over the plan's quota for the period (429 `Limit Exceeded`). */
  | { outcome: 'quota-exceeded' };

export interface AdmitInput {
  apiId: string;
  stage: string;
  /** `/orders/POST`: how plans name a method in their per-method throttles. */
  method: string;
  keyValue: string | undefined;
}

/**
 * A token bucket as API Gateway documents its throttling: `burstLimit` tokens at most, refilled at `rateLimit` per
 * second, one taken per request; an empty bucket refuses.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly limits: Throttle,
    now: number,
  ) {
    this.tokens = limits.burstLimit;
    this.updatedAt = now;
  }

  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + elapsed * this.limits.rateLimit);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Buckets by name, created full on first use. */
export class Buckets {
  private readonly buckets = new Map<string, TokenBucket>();

  take(name: string, limits: Throttle, now: number): boolean {
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = new TokenBucket(limits, now);
      this.buckets.set(name, bucket);
    }
    return bucket.take(now);
  }

  forget(prefix: string): void {
    for (const name of this.buckets.keys()) if (name.startsWith(prefix)) this.buckets.delete(name);
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Start of the quota period `now` falls in, in UTC: a day; a week starting on weekday `offset` (0 = Sunday); a month
 * starting on day `offset + 1`.
 */
export function quotaPeriodStart(quota: Quota, now: number): number {
  const date = new Date(now);
  const midnight = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  if (quota.period === 'DAY') return midnight;
  if (quota.period === 'WEEK') return midnight - ((date.getUTCDay() - quota.offset + 7) % 7) * DAY_MS;
  const startDay = quota.offset + 1;
  const month = date.getUTCDate() >= startDay ? date.getUTCMonth() : date.getUTCMonth() - 1;
  return Date.UTC(date.getUTCFullYear(), month, startDay);
}

/** API Gateway's generated keys are 40 alphanumeric characters. */
function generateKeyValue(): string {
  return randomBytes(30).toString('base64').replace(/[+/=]/g, '').slice(0, 40).padEnd(40, 'A');
}

/** API Gateway's key and plan ids are 10 lower-case alphanumeric characters. */
function generateId(): string {
  return randomBytes(16)
    .toString('base64')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 10)
    .padEnd(10, '0');
}

/** A management request the store refuses; the management API maps `kind` to API Gateway's exception. */
export class UsagePlanError extends Error {
  override name = 'UsagePlanError';

  constructor(
    readonly kind: 'NotFound' | 'Conflict' | 'BadRequest',
    message: string,
  ) {
    super(message);
  }
}

export class UsagePlans {
  private readonly plans = new Map<string, UsagePlanDefinition>();
  private readonly keys = new Map<string, ApiKey>();
  private readonly keyIdByValue = new Map<string, string>();
  /** Plan id → key ids. */
  private readonly planKeys = new Map<string, Set<string>>();
  private readonly buckets = new Buckets();
  /** `<plan>\0<key>` → requests counted in the period that started at `periodStart`. */
  private readonly usage = new Map<string, { periodStart: number; used: number }>();
  private readonly now: () => number;

  constructor(definition: UsagePlansDefinition, now: () => number = Date.now) {
    this.now = now;
    for (const plan of definition.plans) this.plans.set(plan.id, plan);
    for (const key of definition.keys) this.addKey(key);
    for (const { planId, keyId } of definition.planKeys) this.addPlanKey(planId, keyId);
  }

  // --- request time -------------------------------------------------------------------------------------------

  admit(input: AdmitInput): Admission {
    if (!input.keyValue) return { outcome: 'forbidden', reason: 'no API key' };
    const keyId = this.keyIdByValue.get(input.keyValue);
    const key = keyId ? this.keys.get(keyId) : undefined;
    if (!key) return { outcome: 'forbidden', reason: 'unknown API key' };
    if (!key.enabled) return { outcome: 'forbidden', reason: `API key ${key.id} is disabled` };
    const found = this.planFor(key.id, input.apiId, input.stage);
    if (!found) {
      return { outcome: 'forbidden', reason: `API key ${key.id} is in no usage plan for this stage` };
    }
    const { plan, apiStage } = found;
    const now = this.now();
    const usageKey = `${plan.id}\u0000${key.id}`;
    let usage = this.usage.get(usageKey);
    if (plan.quota) {
      const periodStart = quotaPeriodStart(plan.quota, now);
      if (!usage || usage.periodStart !== periodStart) usage = { periodStart, used: 0 };
      this.usage.set(usageKey, usage);
      if (usage.used >= plan.quota.limit) return { outcome: 'quota-exceeded' };
    }
    const methodThrottle = apiStage.throttle[input.method];
    const throttle = methodThrottle ?? plan.throttle;
    const bucket = `${usageKey}\u0000${methodThrottle ? input.method : '*'}`;
    if (throttle && !this.buckets.take(bucket, throttle, now)) return { outcome: 'throttled' };
    if (usage) usage.used += 1;
    return { outcome: 'admitted', key, planId: plan.id };
  }

  private planFor(
    keyId: string,
    apiId: string,
    stage: string,
  ): { plan: UsagePlanDefinition; apiStage: UsagePlanDefinition['apiStages'][number] } | undefined {
    for (const [planId, keyIds] of this.planKeys) {
      if (!keyIds.has(keyId)) continue;
      const plan = this.plans.get(planId);
      const apiStage = plan?.apiStages.find((s) => s.apiId === apiId && s.stage === stage);
      if (plan && apiStage) return { plan, apiStage };
    }
    return undefined;
  }

  // --- management -----------------------------------------------------------------------------------------------

  createKey(input: Omit<ApiKeyDefinition, 'id'>): ApiKey {
    if (input.value !== undefined && input.value.length < 20) {
      throw new UsagePlanError('BadRequest', 'API Key value should be at least 20 characters');
    }
    return this.addKey({ ...input, id: generateId() });
  }

  private addKey(definition: ApiKeyDefinition): ApiKey {
    const value = definition.value ?? generateKeyValue();
    if (this.keyIdByValue.has(value)) throw new UsagePlanError('Conflict', 'API Key already exists');
    const now = new Date(this.now());
    const key: ApiKey = {
      id: definition.id,
      name: definition.name,
      value,
      enabled: definition.enabled,
      ...(definition.description !== undefined ? { description: definition.description } : {}),
      ...(definition.customerId !== undefined ? { customerId: definition.customerId } : {}),
      createdDate: now,
      lastUpdatedDate: now,
    };
    this.keys.set(key.id, key);
    this.keyIdByValue.set(value, key.id);
    return key;
  }

  key(keyId: string): ApiKey {
    const key = this.keys.get(keyId);
    if (!key) throw new UsagePlanError('NotFound', 'Invalid API Key identifier specified');
    return key;
  }

  listKeys(): ApiKey[] {
    return [...this.keys.values()];
  }

  updateKey(
    keyId: string,
    changes: Partial<Pick<ApiKey, 'name' | 'enabled' | 'description' | 'customerId'>>,
  ): ApiKey {
    const key = this.key(keyId);
    Object.assign(key, changes, { lastUpdatedDate: new Date(this.now()) });
    return key;
  }

  deleteKey(keyId: string): void {
    const key = this.key(keyId);
    this.keys.delete(keyId);
    this.keyIdByValue.delete(key.value);
    for (const [planId, keyIds] of this.planKeys) {
      if (keyIds.delete(keyId)) this.forgetUsage(planId, keyId);
    }
  }

  plan(planId: string): UsagePlanDefinition {
    const plan = this.plans.get(planId);
    if (!plan) throw new UsagePlanError('NotFound', 'Invalid Usage Plan ID specified');
    return plan;
  }

  listPlans(keyId?: string): UsagePlanDefinition[] {
    return [...this.plans.values()].filter((plan) => !keyId || this.planKeys.get(plan.id)?.has(keyId));
  }

  addPlanKey(planId: string, keyId: string): ApiKey {
    const plan = this.plan(planId);
    const key = this.key(keyId);
    const keyIds = this.planKeys.get(planId) ?? new Set<string>();
    if (keyIds.has(keyId))
      throw new UsagePlanError('Conflict', 'Usage Plan already contains specified API key');
    // API Gateway refuses a key in two plans that meter the same API stage: the request could not pick one.
    for (const other of this.listPlans(keyId)) {
      const shared = other.apiStages.find((s) =>
        plan.apiStages.some((t) => t.apiId === s.apiId && t.stage === s.stage),
      );
      if (shared) {
        throw new UsagePlanError(
          'Conflict',
          `API Key ${keyId} is already in usage plan ${other.id} for stage ${shared.apiId}/${shared.stage}`,
        );
      }
    }
    keyIds.add(keyId);
    this.planKeys.set(planId, keyIds);
    return key;
  }

  planKeyIds(planId: string): ApiKey[] {
    this.plan(planId);
    return [...(this.planKeys.get(planId) ?? [])].flatMap((id) => this.keys.get(id) ?? []);
  }

  removePlanKey(planId: string, keyId: string): void {
    this.plan(planId);
    if (!this.planKeys.get(planId)?.delete(keyId)) {
      throw new UsagePlanError('NotFound', 'Invalid API Key identifier specified');
    }
    this.forgetUsage(planId, keyId);
  }

  private forgetUsage(planId: string, keyId: string): void {
    const prefix = `${planId}\u0000${keyId}`;
    this.usage.delete(prefix);
    this.buckets.forget(prefix);
  }
}
