import { z } from 'zod';
import { cfnBoolean, cfnNumber } from '#local/resources/module.ts';
import type { CfnResource } from '../../types.ts';
import { lambdaArnFromUri } from '../http-api/definition.ts';

/**
 * REST APIs (API Gateway v1) as the local gateway needs them, read from the resolved template: each
 * `AWS::ApiGateway::RestApi` with its resource tree, methods, Lambda authorizers, stages and gateway responses, and
 * the account's usage plans, API keys and plan keys. Properties are parsed with zod per type, so a template the local
 * gateway cannot serve stops the start with the resource's logical id.
 */

export type RestAuthorizationType = 'NONE' | 'CUSTOM' | 'AWS_IAM' | 'COGNITO_USER_POOLS';

export interface Throttle {
  /** Requests per second the bucket refills with. */
  rateLimit: number;
  /** The bucket's size: how many requests may arrive at once. */
  burstLimit: number;
}

export type RestIntegration =
  | { type: 'AWS_PROXY'; functionArn: string; timeoutMs: number }
  /** API Gateway answers itself (CDK's CORS preflight): static status, headers and body. */
  | { type: 'MOCK'; statusCode: number; headers: Array<[string, string]>; body: string };

export interface RestMethod {
  /** `GET /orders/{trackingId}`: the route table's key (`ANY` for any method). */
  routeKey: string;
  httpMethod: string;
  /** The resource's path template, e.g. `/orders/{trackingId}` (`resource` and `requestContext.resourcePath`). */
  resourcePath: string;
  /** What `Ref` of the `AWS::ApiGateway::Resource` returns (`requestContext.resourceId`). */
  resourceId: string;
  authorizationType: RestAuthorizationType;
  authorizerId?: string;
  apiKeyRequired: boolean;
  integration: RestIntegration;
}

export interface RestAuthorizer {
  id: string;
  name: string;
  type: 'TOKEN' | 'REQUEST';
  functionArn: string;
  /** `method.request.header.Authorization`, `method.request.querystring.key`, ... */
  identitySource: string[];
  /** TOKEN only: a token that does not match is refused with 401 without invoking the function. */
  identityValidationExpression?: RegExp;
  /** 0 disables caching; CloudFormation's default is 300. */
  resultTtlSeconds: number;
}

export interface RestStage {
  name: string;
  variables: Record<string, string>;
  /** `MethodSettings` throttles by `/<resource path>/<METHOD>`; `/*\/*` applies to every method. */
  methodThrottles: Record<string, Throttle>;
}

export interface RestGatewayResponse {
  statusCode?: number;
  /** Header name → mapping expression (`'literal'`, `method.request.header.X`, ...). */
  headers: Record<string, string>;
  /** Content type → body template. */
  templates: Record<string, string>;
}

export interface RestApiDefinition {
  apiLogicalId: string;
  /** What `Ref` of the RestApi returns: the id in method ARNs and `requestContext.apiId`. */
  apiId: string;
  name: string;
  /** Where a method with `ApiKeyRequired` finds the key: the `x-api-key` header or the authorizer's answer. */
  apiKeySource: 'HEADER' | 'AUTHORIZER';
  /** Content types (`image/png`, `image/*`, `*\/*`; `~1` for `/` as CloudFormation writes them) passed base64-encoded. */
  binaryMediaTypes: string[];
  methods: RestMethod[];
  /** By authorizer id (what `Ref` of the authorizer returns). */
  authorizers: Record<string, RestAuthorizer>;
  /** By stage name. */
  stages: Record<string, RestStage>;
  /** By response type (`THROTTLED`, `DEFAULT_4XX`, ...). */
  gatewayResponses: Record<string, RestGatewayResponse>;
}

export interface Quota {
  limit: number;
  period: 'DAY' | 'WEEK' | 'MONTH';
  offset: number;
}

export interface UsagePlanDefinition {
  id: string;
  name: string;
  description?: string;
  apiStages: Array<{ apiId: string; stage: string; throttle: Record<string, Throttle> }>;
  throttle?: Throttle;
  quota?: Quota;
}

export interface ApiKeyDefinition {
  id: string;
  name: string;
  /** Absent: the gateway generates one. */
  value?: string;
  enabled: boolean;
  description?: string;
  customerId?: string;
}

export interface UsagePlansDefinition {
  plans: UsagePlanDefinition[];
  keys: ApiKeyDefinition[];
  planKeys: Array<{ planId: string; keyId: string }>;
}

/** The template describes a REST API the local gateway cannot serve. */
export class RestApiConfigError extends Error {
  override name = 'RestApiConfigError';
}

/** How the reader names resources: what `Ref` returns, and a RestApi's `RootResourceId`. */
export interface RestApiNames {
  ref(logicalId: string): string;
  rootResourceId(apiLogicalId: string): string;
}

const MAX_INTEGRATION_TIMEOUT_MS = 29_000;

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const restApiProps = z.looseObject({
  Name: z.string().optional(),
  BinaryMediaTypes: z.array(z.string()).default([]),
  ApiKeySourceType: z.enum(['HEADER', 'AUTHORIZER']).default('HEADER'),
});
const resourceProps = z.looseObject({ RestApiId: z.string(), ParentId: z.string(), PathPart: z.string() });
const methodProps = z.looseObject({
  RestApiId: z.string(),
  ResourceId: z.string(),
  HttpMethod: z.string().transform((method) => method.toUpperCase()),
  AuthorizationType: z.enum(['NONE', 'CUSTOM', 'AWS_IAM', 'COGNITO_USER_POOLS']).default('NONE'),
  AuthorizerId: z.string().optional(),
  ApiKeyRequired: cfnBoolean.default(false),
  Integration: z
    .looseObject({
      Type: z.string(),
      Uri: z.string().optional(),
      TimeoutInMillis: cfnNumber.optional(),
      IntegrationResponses: z
        .array(
          z.looseObject({
            StatusCode: cfnNumber,
            SelectionPattern: z.string().optional(),
            ResponseParameters: z.record(z.string(), z.string()).optional(),
            ResponseTemplates: z.record(z.string(), z.string()).optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});
const authorizerProps = z.looseObject({
  RestApiId: z.string(),
  Name: z.string().optional(),
  Type: z.string(),
  AuthorizerUri: z.string().optional(),
  IdentitySource: z.string().optional(),
  IdentityValidationExpression: z.string().optional(),
  AuthorizerResultTtlInSeconds: cfnNumber.default(300),
});
const methodSetting = z.looseObject({
  ResourcePath: z.string().default('/*'),
  HttpMethod: z.string().default('*'),
  ThrottlingRateLimit: cfnNumber.optional(),
  ThrottlingBurstLimit: cfnNumber.optional(),
});
const stageProps = z.looseObject({
  RestApiId: z.string(),
  StageName: z.string(),
  Variables: stringMap.optional(),
  MethodSettings: z.array(methodSetting).optional(),
});
const deploymentProps = z.looseObject({
  RestApiId: z.string(),
  StageName: z.string().optional(),
  StageDescription: z
    .looseObject({
      Variables: stringMap.optional(),
      MethodSettings: z.array(methodSetting).optional(),
      ThrottlingRateLimit: cfnNumber.optional(),
      ThrottlingBurstLimit: cfnNumber.optional(),
    })
    .optional(),
});
const gatewayResponseProps = z.looseObject({
  RestApiId: z.string(),
  ResponseType: z.string(),
  StatusCode: cfnNumber.optional(),
  ResponseParameters: z.record(z.string(), z.string()).optional(),
  ResponseTemplates: z.record(z.string(), z.string()).optional(),
});
const throttleProps = z.looseObject({ RateLimit: cfnNumber.optional(), BurstLimit: cfnNumber.optional() });
const usagePlanProps = z.looseObject({
  UsagePlanName: z.string().optional(),
  Description: z.string().optional(),
  ApiStages: z
    .array(
      z.looseObject({
        ApiId: z.string(),
        Stage: z.string(),
        Throttle: z.record(z.string(), throttleProps).optional(),
      }),
    )
    .default([]),
  Throttle: throttleProps.optional(),
  Quota: z
    .looseObject({
      Limit: cfnNumber,
      Period: z.enum(['DAY', 'WEEK', 'MONTH']),
      Offset: cfnNumber.default(0),
    })
    .optional(),
});
const apiKeyProps = z.looseObject({
  Name: z.string().optional(),
  Value: z.string().min(20, 'an API key value needs at least 20 characters').optional(),
  // CloudFormation's default: a key is disabled unless the template says otherwise (CDK's ApiKey says true).
  Enabled: cfnBoolean.default(false),
  Description: z.string().optional(),
  CustomerId: z.string().optional(),
});
const usagePlanKeyProps = z.looseObject({
  KeyId: z.string(),
  KeyType: z.literal('API_KEY'),
  UsagePlanId: z.string(),
});

function parse<T>(schema: z.ZodType<T>, logicalId: string, resource: CfnResource): T {
  const result = schema.safeParse(resource.Properties ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (issue) => `Properties.${issue.path.map(String).join('.')}: ${issue.message}`,
  );
  throw new RestApiConfigError(`${resource.Type} ${logicalId}: ${issues.join('; ')}`);
}

/** API Gateway's throttle when only one of the two limits is given: the bucket holds a second's worth. */
function throttleOf(rate: number | undefined, burst: number | undefined): Throttle | undefined {
  if (rate === undefined && burst === undefined) return undefined;
  const rateLimit = rate ?? burst ?? 0;
  return { rateLimit, burstLimit: burst ?? Math.max(1, Math.ceil(rateLimit)) };
}

/** `MethodSettings` name resources with `~1` for `/` (`/~1orders/POST`); throttles are keyed `/orders/POST`. */
function methodThrottles(
  settings: Array<z.infer<typeof methodSetting>> | undefined,
): Record<string, Throttle> {
  const throttles: Record<string, Throttle> = {};
  for (const setting of settings ?? []) {
    const throttle = throttleOf(setting.ThrottlingRateLimit, setting.ThrottlingBurstLimit);
    if (!throttle) continue;
    // `/~1orders~1{id}` is the path `/orders/{id}` with its slashes escaped, after a leading `/`.
    const path = setting.ResourcePath === '/*' ? '/*' : setting.ResourcePath.slice(1).replace(/~1/g, '/');
    throttles[`${path}/${setting.HttpMethod.toUpperCase()}`] = throttle;
  }
  return throttles;
}

type Entries = Array<[string, CfnResource]>;

export function collectRestApis(
  resources: Record<string, CfnResource>,
  names: RestApiNames,
): RestApiDefinition[] {
  const entries: Entries = Object.entries(resources);
  const ofType = (type: string): Entries => entries.filter(([, resource]) => resource.Type === type);
  return ofType('AWS::ApiGateway::RestApi').map(([apiLogicalId, resource]) => {
    const props = parse(restApiProps, apiLogicalId, resource);
    const apiId = names.ref(apiLogicalId);
    const mine = <T extends { RestApiId: string }>(type: string, schema: z.ZodType<T>) =>
      ofType(type)
        .map(([logicalId, r]) => ({ logicalId, props: parse(schema, logicalId, r) }))
        .filter((entry) => entry.props.RestApiId === apiId);

    const paths = resourcePaths(apiLogicalId, names, mine('AWS::ApiGateway::Resource', resourceProps));
    const authorizers: Record<string, RestAuthorizer> = {};
    for (const { logicalId, props: a } of mine('AWS::ApiGateway::Authorizer', authorizerProps)) {
      authorizers[names.ref(logicalId)] = authorizerFrom(names.ref(logicalId), logicalId, a);
    }
    const methods = mine('AWS::ApiGateway::Method', methodProps).map(({ logicalId, props: m }) => {
      const resourcePath = paths.get(m.ResourceId);
      if (resourcePath === undefined) {
        throw new RestApiConfigError(
          `method ${logicalId}: ResourceId ${m.ResourceId} is no resource of ${apiLogicalId}`,
        );
      }
      if (m.AuthorizationType === 'CUSTOM' && !(m.AuthorizerId && authorizers[m.AuthorizerId])) {
        throw new RestApiConfigError(
          `method ${logicalId}: AuthorizerId ${m.AuthorizerId} is no Lambda authorizer of ${apiLogicalId}`,
        );
      }
      return {
        routeKey: `${m.HttpMethod} ${resourcePath}`,
        httpMethod: m.HttpMethod,
        resourcePath,
        resourceId: m.ResourceId,
        authorizationType: m.AuthorizationType,
        ...(m.AuthorizerId ? { authorizerId: m.AuthorizerId } : {}),
        apiKeyRequired: m.ApiKeyRequired,
        integration: integrationFrom(logicalId, m.Integration),
      } satisfies RestMethod;
    });

    const stages: Record<string, RestStage> = {};
    for (const { props: d } of mine('AWS::ApiGateway::Deployment', deploymentProps)) {
      if (!d.StageName) continue;
      const description = d.StageDescription;
      const all = throttleOf(description?.ThrottlingRateLimit, description?.ThrottlingBurstLimit);
      stages[d.StageName] = {
        name: d.StageName,
        variables: description?.Variables ?? {},
        methodThrottles: { ...(all ? { '/*/*': all } : {}), ...methodThrottles(description?.MethodSettings) },
      };
    }
    for (const { props: s } of mine('AWS::ApiGateway::Stage', stageProps)) {
      stages[s.StageName] = {
        name: s.StageName,
        variables: s.Variables ?? {},
        methodThrottles: methodThrottles(s.MethodSettings),
      };
    }

    const gatewayResponses: Record<string, RestGatewayResponse> = {};
    for (const { props: g } of mine('AWS::ApiGateway::GatewayResponse', gatewayResponseProps)) {
      const headers: Record<string, string> = {};
      for (const [parameter, expression] of Object.entries(g.ResponseParameters ?? {})) {
        const header = /^gatewayresponse\.header\.(.+)$/.exec(parameter)?.[1];
        if (header) headers[header] = expression;
      }
      gatewayResponses[g.ResponseType] = {
        ...(g.StatusCode !== undefined ? { statusCode: g.StatusCode } : {}),
        headers,
        templates: g.ResponseTemplates ?? {},
      };
    }
    return {
      apiLogicalId,
      apiId,
      name: props.Name ?? apiLogicalId,
      apiKeySource: props.ApiKeySourceType,
      binaryMediaTypes: props.BinaryMediaTypes.map((type) => type.replace(/~1/g, '/')),
      methods,
      authorizers,
      stages,
      gatewayResponses,
    };
  });
}

/** Resource id → path template, walking each resource's `ParentId` up to the API's root resource. */
function resourcePaths(
  apiLogicalId: string,
  names: RestApiNames,
  resources: Array<{ logicalId: string; props: z.infer<typeof resourceProps> }>,
): Map<string, string> {
  const root = names.rootResourceId(apiLogicalId);
  const byId = new Map(resources.map((r) => [names.ref(r.logicalId), r]));
  const paths = new Map<string, string>([[root, '/']]);
  const pathOf = (id: string, seen: Set<string>): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const resource = byId.get(id);
    if (!resource)
      throw new RestApiConfigError(`resource id ${id} is neither a resource nor the root of ${apiLogicalId}`);
    if (seen.has(id)) throw new RestApiConfigError(`resource ${resource.logicalId} is its own ancestor`);
    seen.add(id);
    const parent = pathOf(resource.props.ParentId, seen);
    const path = `${parent === '/' ? '' : parent}/${resource.props.PathPart}`;
    paths.set(id, path);
    return path;
  };
  for (const id of byId.keys()) pathOf(id, new Set());
  return paths;
}

function authorizerFrom(id: string, logicalId: string, a: z.infer<typeof authorizerProps>): RestAuthorizer {
  if (a.Type !== 'TOKEN' && a.Type !== 'REQUEST') {
    throw new RestApiConfigError(
      `authorizer ${logicalId}: Type ${a.Type} cannot run locally (Lambda TOKEN and REQUEST authorizers only)`,
    );
  }
  if (!a.AuthorizerUri) throw new RestApiConfigError(`authorizer ${logicalId}: AuthorizerUri is missing`);
  const identitySource = (
    a.IdentitySource ?? (a.Type === 'TOKEN' ? 'method.request.header.Authorization' : '')
  )
    .split(',')
    .map((source) => source.trim())
    .filter(Boolean);
  return {
    id,
    name: a.Name ?? logicalId,
    type: a.Type,
    functionArn: lambdaArnFromUri(a.AuthorizerUri),
    identitySource,
    ...(a.IdentityValidationExpression
      ? { identityValidationExpression: new RegExp(`^(?:${a.IdentityValidationExpression})$`) }
      : {}),
    resultTtlSeconds: a.AuthorizerResultTtlInSeconds,
  };
}

function integrationFrom(
  logicalId: string,
  integration: z.infer<typeof methodProps>['Integration'],
): RestIntegration {
  if (!integration) throw new RestApiConfigError(`method ${logicalId}: no Integration`);
  if (integration.Type === 'AWS_PROXY') {
    if (!integration.Uri) throw new RestApiConfigError(`method ${logicalId}: Integration.Uri is missing`);
    const timeout = integration.TimeoutInMillis ?? MAX_INTEGRATION_TIMEOUT_MS;
    return {
      type: 'AWS_PROXY',
      functionArn: lambdaArnFromUri(integration.Uri),
      timeoutMs: Math.min(timeout > 0 ? timeout : MAX_INTEGRATION_TIMEOUT_MS, MAX_INTEGRATION_TIMEOUT_MS),
    };
  }
  if (integration.Type === 'MOCK') {
    const responses = integration.IntegrationResponses ?? [];
    // The response without a selection pattern is the default one, as for any integration.
    const chosen = responses.find((r) => !r.SelectionPattern) ?? responses[0];
    const headers: Array<[string, string]> = [];
    for (const [parameter, expression] of Object.entries(chosen?.ResponseParameters ?? {})) {
      const header = /^method\.response\.header\.(.+)$/.exec(parameter)?.[1];
      const literal = /^'(.*)'$/s.exec(expression)?.[1];
      if (header && literal !== undefined) headers.push([header, literal]);
    }
    const template = chosen?.ResponseTemplates?.['application/json'] ?? '';
    if (/[#$]/.test(template)) {
      throw new RestApiConfigError(
        `method ${logicalId}: the MOCK integration's response template is VTL, which the local gateway does not evaluate (give CORS a single allowed origin, or no template)`,
      );
    }
    return { type: 'MOCK', statusCode: chosen?.StatusCode ?? 200, headers, body: template };
  }
  throw new RestApiConfigError(
    `method ${logicalId}: Integration.Type ${integration.Type} is not supported locally (AWS_PROXY to Lambda, and MOCK)`,
  );
}

export function collectUsagePlans(
  resources: Record<string, CfnResource>,
  names: Pick<RestApiNames, 'ref'>,
): UsagePlansDefinition {
  const entries: Entries = Object.entries(resources);
  const ofType = (type: string): Entries => entries.filter(([, resource]) => resource.Type === type);
  const plans = ofType('AWS::ApiGateway::UsagePlan').map(([logicalId, resource]): UsagePlanDefinition => {
    const p = parse(usagePlanProps, logicalId, resource);
    const throttle = throttleOf(p.Throttle?.RateLimit, p.Throttle?.BurstLimit);
    return {
      id: names.ref(logicalId),
      name: p.UsagePlanName ?? logicalId,
      ...(p.Description ? { description: p.Description } : {}),
      apiStages: p.ApiStages.map((stage) => {
        const perMethod: Record<string, Throttle> = {};
        for (const [method, t] of Object.entries(stage.Throttle ?? {})) {
          const limits = throttleOf(t.RateLimit, t.BurstLimit);
          if (limits) perMethod[method] = limits;
        }
        return { apiId: stage.ApiId, stage: stage.Stage, throttle: perMethod };
      }),
      ...(throttle ? { throttle } : {}),
      ...(p.Quota ? { quota: { limit: p.Quota.Limit, period: p.Quota.Period, offset: p.Quota.Offset } } : {}),
    };
  });
  const keys = ofType('AWS::ApiGateway::ApiKey').map(([logicalId, resource]): ApiKeyDefinition => {
    const k = parse(apiKeyProps, logicalId, resource);
    return {
      id: names.ref(logicalId),
      name: k.Name ?? logicalId,
      ...(k.Value ? { value: k.Value } : {}),
      enabled: k.Enabled,
      ...(k.Description ? { description: k.Description } : {}),
      ...(k.CustomerId ? { customerId: k.CustomerId } : {}),
    };
  });
  const planKeys = ofType('AWS::ApiGateway::UsagePlanKey').map(([logicalId, resource]) => {
    const k = parse(usagePlanKeyProps, logicalId, resource);
    return { planId: k.UsagePlanId, keyId: k.KeyId };
  });
  return { plans, keys, planKeys };
}
