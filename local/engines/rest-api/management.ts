import { z } from 'zod';
import { AwsServiceError, type RestJsonRequest, type RestJsonService } from '../gateway.ts';
import type { UsagePlanDefinition } from './definition.ts';
import { type ApiKey, UsagePlanError, type UsagePlans } from './usage-plans.ts';

/**
 * The part of API Gateway's management API (REST-JSON, what `@aws-sdk/client-api-gateway` sends) that issues and
 * revokes API keys at run time: CreateApiKey, GetApiKey(s), UpdateApiKey, DeleteApiKey, GetUsagePlan(s),
 * CreateUsagePlanKey, GetUsagePlanKeys, DeleteUsagePlanKey. Served on the runtime's gateway endpoint
 * (`AWS_ENDPOINT_URL_API_GATEWAY`), so the operator CLI's SDK calls reach the local usage plans unchanged. On the
 * wire, list answers name their list `item` (the SDK reads it into `items`), and dates are epoch seconds.
 */

const createApiKey = z.object({
  name: z.string().optional(),
  description: z.string().optional(),
  enabled: z.boolean().default(false),
  value: z.string().optional(),
  customerId: z.string().optional(),
  generateDistinctId: z.boolean().optional(),
  stageKeys: z.array(z.unknown()).optional(),
  tags: z.record(z.string(), z.string()).optional(),
});

const patchOperations = z.object({
  patchOperations: z
    .array(z.object({ op: z.string(), path: z.string(), value: z.string().optional() }))
    .default([]),
});

const createUsagePlanKey = z.object({ keyId: z.string().min(1), keyType: z.literal('API_KEY') });

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (issue) => `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`,
  );
  throw new AwsServiceError('BadRequestException', issues.join('; '), 400);
}

function keyShape(key: ApiKey, includeValue: boolean): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    ...(includeValue ? { value: key.value } : {}),
    enabled: key.enabled,
    ...(key.description !== undefined ? { description: key.description } : {}),
    ...(key.customerId !== undefined ? { customerId: key.customerId } : {}),
    createdDate: key.createdDate,
    lastUpdatedDate: key.lastUpdatedDate,
    stageKeys: [],
  };
}

function planShape(plan: UsagePlanDefinition): Record<string, unknown> {
  const limits = (t: { rateLimit: number; burstLimit: number }) => ({
    rateLimit: t.rateLimit,
    burstLimit: t.burstLimit,
  });
  return {
    id: plan.id,
    name: plan.name,
    ...(plan.description ? { description: plan.description } : {}),
    apiStages: plan.apiStages.map((s) => ({
      apiId: s.apiId,
      stage: s.stage,
      ...(Object.keys(s.throttle).length > 0
        ? { throttle: Object.fromEntries(Object.entries(s.throttle).map(([m, t]) => [m, limits(t)])) }
        : {}),
    })),
    ...(plan.throttle ? { throttle: limits(plan.throttle) } : {}),
    ...(plan.quota ? { quota: { ...plan.quota } } : {}),
  };
}

function planKeyShape(key: ApiKey): Record<string, unknown> {
  return { id: key.id, type: 'API_KEY', name: key.name, value: key.value };
}

const truthy = (value: string | null) => value === 'true';

function patchKey(plans: UsagePlans, keyId: string, body: unknown): ApiKey {
  const changes: Parameters<UsagePlans['updateKey']>[1] = {};
  for (const operation of parseBody(patchOperations, body).patchOperations) {
    if (operation.op !== 'replace') {
      throw new AwsServiceError(
        'BadRequestException',
        `Invalid patch operation specified: ${operation.op}`,
        400,
      );
    }
    const value = operation.value ?? '';
    switch (operation.path) {
      case '/enabled':
        changes.enabled = value === 'true';
        break;
      case '/name':
        changes.name = value;
        break;
      case '/description':
        changes.description = value;
        break;
      case '/customerId':
        changes.customerId = value;
        break;
      default:
        throw new AwsServiceError('BadRequestException', `Invalid patch path ${operation.path}`, 400);
    }
  }
  return plans.updateKey(keyId, changes);
}

async function route(
  plans: UsagePlans,
  request: RestJsonRequest,
): Promise<{ status: number; body?: unknown } | undefined> {
  const { method, segments, query, body } = request;
  const [collection, id, sub, subId] = segments;
  if (collection === 'apikeys') {
    if (segments.length === 1 && method === 'POST') {
      const input = parseBody(createApiKey, body);
      const key = plans.createKey({
        name: input.name ?? '',
        enabled: input.enabled,
        ...(input.value !== undefined ? { value: input.value } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
      });
      return { status: 201, body: keyShape(key, true) };
    }
    if (segments.length === 1 && method === 'GET') {
      const name = query.get('name');
      const customerId = query.get('customerId');
      const items = plans
        .listKeys()
        .filter((key) => !name || key.name.startsWith(name))
        .filter((key) => !customerId || key.customerId === customerId)
        .map((key) => keyShape(key, truthy(query.get('includeValues'))));
      return { status: 200, body: { item: items } };
    }
    if (segments.length === 2 && id) {
      if (method === 'GET')
        return { status: 200, body: keyShape(plans.key(id), truthy(query.get('includeValue'))) };
      if (method === 'PATCH') return { status: 200, body: keyShape(patchKey(plans, id, body), false) };
      if (method === 'DELETE') {
        plans.deleteKey(id);
        return { status: 202 };
      }
    }
    return undefined;
  }
  if (collection === 'usageplans') {
    if (segments.length === 1 && method === 'GET') {
      return {
        status: 200,
        body: { item: plans.listPlans(query.get('keyId') ?? undefined).map(planShape) },
      };
    }
    if (!id) return undefined;
    if (segments.length === 2 && method === 'GET') return { status: 200, body: planShape(plans.plan(id)) };
    if (sub !== 'keys') return undefined;
    if (segments.length === 3 && method === 'POST') {
      const input = parseBody(createUsagePlanKey, body);
      return { status: 201, body: planKeyShape(plans.addPlanKey(id, input.keyId)) };
    }
    if (segments.length === 3 && method === 'GET') {
      const name = query.get('name');
      const items = plans
        .planKeyIds(id)
        .filter((key) => !name || key.name.startsWith(name))
        .map(planKeyShape);
      return { status: 200, body: { item: items } };
    }
    if (segments.length === 4 && subId) {
      if (method === 'GET') {
        const key = plans.planKeyIds(id).find((k) => k.id === subId);
        if (!key) throw new AwsServiceError('NotFoundException', 'Invalid API Key identifier specified', 404);
        return { status: 200, body: planKeyShape(key) };
      }
      if (method === 'DELETE') {
        plans.removePlanKey(id, subId);
        return { status: 202 };
      }
    }
  }
  return undefined;
}

const STATUS: Record<UsagePlanError['kind'], number> = { NotFound: 404, Conflict: 409, BadRequest: 400 };

export function createApiGatewayManagementService(plans: UsagePlans): RestJsonService {
  return async (request) => {
    try {
      return await route(plans, request);
    } catch (error) {
      if (error instanceof UsagePlanError) {
        throw new AwsServiceError(`${error.kind}Exception`, error.message, STATUS[error.kind]);
      }
      throw error;
    }
  };
}
