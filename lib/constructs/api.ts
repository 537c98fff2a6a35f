import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  type ApiFlavour,
  DEFAULT_CLIENT_BURST_LIMIT,
  DEFAULT_CLIENT_DAILY_QUOTA,
  DEFAULT_CLIENT_RATE_LIMIT,
  DEFAULT_ORDER_FLOW,
  OPENAPI_ROUTE,
  type OrderFlow,
  PREFER_WAIT_MAX_SECONDS,
} from '#contracts/api.ts';
import { ENV } from '#contracts/environment.ts';
import { BuzzerFunction } from './buzzer-function.ts';

/**
 * How long API Gateway caches the authorizer's decision per Authorization header: the bound on how long a revoked
 * or expired API key keeps working (README, "API keys"). Each cache miss is one strongly consistent GetItem.
 */
export const AUTHORIZER_CACHE_TTL = Duration.seconds(60);

/**
 * The timeout of the two order routes' functions, which may hold a request for a `Prefer: wait` (README, "API"): the
 * longest wait, plus what the request does before it (the price read and the accept transaction, with a duplicate's
 * conflict backoff of under a second), plus the margin the wait leaves before the timeout for its last read and the
 * answer (`WAIT_DEADLINE_MARGIN_MS`, 2 s), plus a spare second. It stays under the HTTP API's integration limit of
 * 29 s (CDK; API Gateway's own is 30 s), beyond which the client would get a 504 while the function still ran.
 */
export const ORDER_ROUTE_TIMEOUT = Duration.seconds(PREFER_WAIT_MAX_SECONDS + 5);

/**
 * The function that serves `POST /orders` in each order flow (`ApiProps.orderFlow`): its construct id, which names its
 * logical id, its role and its `api-<key>` service, so a reader of the template sees which flow is deployed.
 */
export const PLACE_ORDER_ROUTES: Readonly<
  Record<OrderFlow, { readonly key: string; readonly entry: string }>
> = {
  async: { key: 'AcceptOrder', entry: 'orders/accept-order.ts' },
  sync: { key: 'PlaceOrderSync', entry: 'orders/place-order-sync.ts' },
};

/**
 * The timeout of the synchronous `POST /orders` function (`orderFlow: 'sync'`), by flavour. Its request does what the
 * saga does behind the async route: it reserves stock, charges with the saga's retries (up to 4 attempts of up to the
 * payment timeout each, 1 to 10 s of backoff between them) and sends the customer's mail, so it gets the longest the
 * API's integration waits for an answer: 30 s on an HTTP API (API Gateway's default and limit for a Lambda
 * integration, which CDK leaves unset), 29 s on a REST API (its default, and its limit unless the account's quota is
 * raised, which this stack does not assume). Any longer and the client would get a 504 while the function still ran.
 * The request's worst case fits: 4 attempts of the 3 s payment time-out, 1 + 2 + 4 s between them, a 5 s mail.
 */
export const PLACE_ORDER_SYNC_TIMEOUT: Readonly<Record<ApiFlavour, Duration>> = {
  http: Duration.seconds(30),
  rest: Duration.seconds(29),
};

export interface ApiProps {
  readonly table: dynamodb.ITable;
  /** Steady-state requests per second across the API (back-pressure before DynamoDB). @default 500 */
  readonly throttleRateLimit?: number;
  /** @default 1000 */
  readonly throttleBurstLimit?: number;
  /** How long an API key decision is cached by API Gateway; a longer TTL breaks the revocation bound README states. @default AUTHORIZER_CACHE_TTL */
  readonly authorizerCacheTtl?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * `http`: an API Gateway HTTP API (cheaper, lower latency). `rest`: a REST API whose `standard` usage plan also
   * throttles each client and meters its daily quota at the gateway, before any function runs (README, "Deploying").
   * Both run the same routes, authorizer and handlers, and the handlers' per-client rate limit applies in both.
   * @default 'http'
   */
  readonly flavour?: ApiFlavour;
  /** Each client's default limits: the rate limiter's, and in the REST flavour the `standard` usage plan's. */
  readonly clientLimits?: ClientLimitSettings;
  /**
   * How `POST /orders` is served: `async` by `AcceptOrder` (202, the saga finishes the order), `sync` by
   * `PlaceOrderSync` (200 with the ended order; contracts/api.ts, ORDER_FLOWS). The sync function needs the payment
   * provider and the mail transport besides the table: the stack gives it their environment and grants.
   * @default 'async'
   */
  readonly orderFlow?: OrderFlow;
}

export interface ClientLimitSettings {
  /** Requests a second, on average. @default DEFAULT_CLIENT_RATE_LIMIT (50) */
  readonly rateLimit?: number;
  /** Requests at once. @default DEFAULT_CLIENT_BURST_LIMIT (100) */
  readonly burstLimit?: number;
  /** REST flavour: requests a day in the `standard` usage plan. @default DEFAULT_CLIENT_DAILY_QUOTA (100 000) */
  readonly dailyQuota?: number;
}

/** The REST flavour's stage: the API's URL ends in `/api`. */
export const REST_STAGE_NAME = 'api';

/**
 * What a THROTTLED (429) answer of the REST API says in `Retry-After`: a gateway response can only carry a static
 * value (its mapping knows no bucket), so it is the rate limiter's shortest wait; the handlers' own 429 computes the
 * real one from the client's bucket.
 */
export const REST_THROTTLED_RETRY_AFTER_SECONDS = 1;

/** A route without authorization (cdk-nag's APIG4, and COG4 on a REST method): only with the reason it may be. */
function acknowledgePublic(route: Construct, reason: string): void {
  for (const rule of ['APIG4', 'COG4']) {
    Validations.of(route).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });
  }
}

export interface RouteOptions {
  timeout?: Duration;
  /** Serve the route without the API key, for this reason (kept with cdk-nag's acknowledgement). */
  public?: string;
  /** `false`: the function reads no table, so it gets neither the table's name nor an entry in table-access.ts. */
  usesTable?: boolean;
}

/** The HTTP methods of the client API's routes. */
export type RouteMethod = 'GET' | 'POST' | 'DELETE' | apigwv2.HttpMethod;

/**
 * The client-facing API: orders and webhook registration, every route behind the API-key Lambda authorizer, so
 * each caller is a client identity that only ever sees its own orders and webhooks. An HTTP API or a REST API
 * (`flavour`); the routes, the authorizer function and the handlers are the same in both.
 */
export class Api extends Construct {
  public readonly flavour: ApiFlavour;
  /** The HTTP flavour's API and stage (undefined in the REST flavour). */
  public readonly httpApi?: apigwv2.HttpApi;
  public readonly stage?: apigwv2.HttpStage;
  /** The REST flavour's API and its usage plans by tier (undefined in the HTTP flavour). */
  public readonly restApi?: apigw.RestApi;
  public readonly usagePlans: Record<string, apigw.UsagePlan> = {};
  public readonly authorizer: BuzzerFunction;
  public readonly handlers: Record<string, BuzzerFunction> = {};
  public readonly orderFlow: OrderFlow;
  /** The function serving `POST /orders`: `AcceptOrder`, or `PlaceOrderSync` with `orderFlow: 'sync'`. */
  public readonly placeOrder: BuzzerFunction;
  private readonly table: dynamodb.ITable;
  private readonly restAuthorizer?: apigw.RequestAuthorizer;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.table = props.table;
    this.flavour = props.flavour ?? 'http';
    this.orderFlow = props.orderFlow ?? DEFAULT_ORDER_FLOW;
    const limits = {
      rateLimit: props.clientLimits?.rateLimit ?? DEFAULT_CLIENT_RATE_LIMIT,
      burstLimit: props.clientLimits?.burstLimit ?? DEFAULT_CLIENT_BURST_LIMIT,
      dailyQuota: props.clientLimits?.dailyQuota ?? DEFAULT_CLIENT_DAILY_QUOTA,
    };
    const throttle = {
      rateLimit: props.throttleRateLimit ?? 500,
      burstLimit: props.throttleBurstLimit ?? 1000,
    };
    const cacheTtl = props.authorizerCacheTtl ?? AUTHORIZER_CACHE_TTL;

    this.authorizer = new BuzzerFunction(this, 'Authorizer', {
      entry: 'clients/authorizer.ts',
      serviceName: 'api-authorizer',
      environment: {
        [ENV.TABLE_NAME]: props.table.tableName,
        [ENV.CLIENT_RATE_LIMIT]: String(limits.rateLimit),
        [ENV.CLIENT_BURST_LIMIT]: String(limits.burstLimit),
      },
    });
    this.authorizer.grantTableAccess(props.table);
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    if (this.flavour === 'rest') {
      this.restAuthorizer = new apigw.RequestAuthorizer(this, 'RestAuthorizer', {
        handler: this.authorizer.function,
        identitySources: [apigw.IdentitySource.header('Authorization')],
        resultsCacheTtl: cacheTtl,
      });
      this.restApi = this.buildRestApi(throttle, accessLogs);
      // The standard tier: every client's API Gateway API key (`buzzer keys create`) is attached to it. Its throttle
      // applies per key, i.e. per client (one key per client, named by the usage identifier the authorizer returns).
      this.usagePlans.standard = this.restApi.addUsagePlan('StandardPlan', {
        name: `${Stack.of(this).stackName}-standard`,
        description: 'Buzzer clients: the stack default rate, burst and daily quota per client',
        throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
        quota: { limit: limits.dailyQuota, period: apigw.Period.DAY },
        apiStages: [{ api: this.restApi, stage: this.restApi.deploymentStage }],
      });
    } else {
      this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
        description: 'Buzzer: accept orders now, finish them later',
        createDefaultStage: false,
        defaultAuthorizer: new HttpLambdaAuthorizer('ApiKeyAuthorizer', this.authorizer.function, {
          responseTypes: [HttpLambdaResponseType.SIMPLE],
          identitySource: ['$request.header.Authorization'],
          resultsCacheTtl: cacheTtl,
        }),
      });
      this.stage = this.httpApi.addStage('DefaultStage', {
        stageName: '$default',
        autoDeploy: true,
        throttle,
        accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
      });
    }

    // Each route's table access is declared per handler in lib/constructs/table-access.ts.
    const waits = { timeout: ORDER_ROUTE_TIMEOUT };
    const placeOrder = PLACE_ORDER_ROUTES[this.orderFlow];
    this.placeOrder = this.addRoute(
      placeOrder.key,
      apigwv2.HttpMethod.POST,
      '/orders',
      placeOrder.entry,
      {},
      this.orderFlow === 'sync' ? { timeout: PLACE_ORDER_SYNC_TIMEOUT[this.flavour] } : waits,
    );
    this.addRoute(
      'GetOrder',
      apigwv2.HttpMethod.GET,
      '/orders/{trackingId}',
      'orders/get-order.ts',
      {},
      waits,
    );
    this.addRoute('CreateWebhook', apigwv2.HttpMethod.POST, '/webhooks', 'webhooks/create-webhook.ts');
    this.addRoute('ListWebhooks', apigwv2.HttpMethod.GET, '/webhooks', 'webhooks/list-webhooks.ts');
    this.addRoute('DeleteWebhook', apigwv2.HttpMethod.DELETE, '/webhooks/{id}', 'webhooks/delete-webhook.ts');
    this.addRoute(
      'RotateWebhookSecret',
      apigwv2.HttpMethod.POST,
      '/webhooks/{id}/rotate-secret',
      'webhooks/rotate-webhook-secret.ts',
    );
    this.addRoute(
      'ListWebhookDeliveries',
      apigwv2.HttpMethod.GET,
      '/webhooks/{id}/deliveries',
      'webhooks/list-webhook-deliveries.ts',
    );
    // POST /webhooks/{id}/enable is added by the Webhooks construct: it needs the delivery queue.
    this.addRoute(
      'GetOpenApiDocument',
      apigwv2.HttpMethod.GET,
      OPENAPI_ROUTE,
      'api/get-openapi-document.ts',
      {},
      {
        public:
          'The OpenAPI document describes the public contract (routes, shapes, error codes) and nothing of ' +
          'any client: tools and client developers read it before holding an API key. Its function reads no ' +
          'table and serves a file from its own bundle; the stage throttle bounds abuse.',
        usesTable: false,
      },
    );
  }

  /**
   * Adds a route served by its own function, allowed on the table exactly what lib/constructs/table-access.ts declares
   * for `entry`. A construct that owns other resources a route needs (e.g. the webhook delivery queue) adds the route
   * here and grants the rest itself.
   */
  public addRoute(
    key: string,
    method: RouteMethod,
    path: string,
    entry: string,
    environment: Record<string, string> = {},
    { public: publicReason, usesTable = true, ...options }: RouteOptions = {},
  ): BuzzerFunction {
    const fn = new BuzzerFunction(this, key, {
      entry,
      serviceName: `api-${key}`,
      environment: { ...(usesTable ? { [ENV.TABLE_NAME]: this.table.tableName } : {}), ...environment },
      ...options,
    });
    if (usesTable) fn.grantTableAccess(this.table);
    this.handlers[key] = fn;
    if (this.restApi) {
      // Authorizer and apiKeyRequired come from the API's default method options, unless the route is public.
      const restMethod = this.restApi.root
        .resourceForPath(path)
        .addMethod(
          method,
          new apigw.LambdaIntegration(fn.function, { allowTestInvoke: false }),
          publicReason === undefined
            ? {}
            : { authorizationType: apigw.AuthorizationType.NONE, apiKeyRequired: false },
        );
      if (publicReason !== undefined) acknowledgePublic(restMethod, publicReason);
    } else {
      const routes = this.httpApi?.addRoutes({
        path,
        methods: [method as apigwv2.HttpMethod],
        integration: new HttpLambdaIntegration(`${key}Integration`, fn.function),
        ...(publicReason === undefined ? {} : { authorizer: new apigwv2.HttpNoneAuthorizer() }),
      });
      if (publicReason !== undefined)
        for (const route of routes ?? []) acknowledgePublic(route, publicReason);
    }
    return fn;
  }

  /**
   * The API's base URL: `https://<id>.execute-api.<region>.amazonaws.com` (HTTP), or the same with `/api/` (REST,
   * its stage; clients strip the trailing slash).
   */
  public get url(): string {
    return this.restApi ? this.restApi.url : (this.httpApi as apigwv2.HttpApi).apiEndpoint;
  }

  /** 5xx answers of the API, whichever the flavour. */
  public metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.restApi
      ? this.restApi.metricServerError(props)
      : (this.httpApi as apigwv2.HttpApi).metricServerError(props);
  }

  /** End-to-end latency of the API's answers, whichever the flavour. */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.restApi
      ? this.restApi.metricLatency(props)
      : (this.httpApi as apigwv2.HttpApi).metricLatency(props);
  }

  private buildRestApi(
    throttle: { rateLimit: number; burstLimit: number },
    accessLogs: logs.LogGroup,
  ): apigw.RestApi {
    const api = new apigw.RestApi(this, 'RestApi', {
      description: 'Buzzer: accept orders now, finish them later',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // The authorizer names the client's usage plan key (`usageIdentifierKey`); clients never send x-api-key.
      apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
      // Access and error logs of a REST API need the account's API Gateway CloudWatch role; this creates it.
      cloudWatchRole: true,
      deployOptions: {
        stageName: REST_STAGE_NAME,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        // Errors only, and never bodies: a request body may carry a payment token or an address.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
        metricsEnabled: true,
      },
      defaultMethodOptions: {
        authorizer: this.restAuthorizer,
        authorizationType: apigw.AuthorizationType.CUSTOM,
        apiKeyRequired: true,
      },
    });
    // The gateway's own 429s (usage plan or stage throttle), in the API's error format. Retry-After is static: a
    // gateway response's mapping sees no bucket, so it says the shortest wait (README, "Rate limits").
    const errorBody = (code: string) => ({
      'application/json': `{"error":{"code":"${code}","message":$context.error.messageString}}`,
    });
    api.addGatewayResponse('Throttled', {
      type: apigw.ResponseType.THROTTLED,
      statusCode: '429',
      responseHeaders: { 'Retry-After': `'${REST_THROTTLED_RETRY_AFTER_SECONDS}'` },
      templates: errorBody('rate_limited'),
    });
    // The daily quota ends at midnight UTC: no short wait to promise, so no Retry-After.
    api.addGatewayResponse('QuotaExceeded', {
      type: apigw.ResponseType.QUOTA_EXCEEDED,
      statusCode: '429',
      templates: errorBody('quota_exceeded'),
    });
    const acknowledge = (id: string, reason: string) =>
      Validations.of(api).acknowledge({ id: `AwsSolutions::AwsSolutions-${id}`, reason });
    acknowledge(
      'APIG2',
      'Every handler validates its path, query and body with zod behind the shared HTTP chain and answers 400 in ' +
        "the API's error format; a gateway request validator would answer in another format first.",
    );
    acknowledge(
      'APIG3',
      'Same as the HTTP flavour: abuse is bounded per client by the usage plan and the handlers’ rate limit, and ' +
        'the stage throttle; a WAF web ACL is the operator’s choice to attach, priced per request.',
    );
    acknowledge(
      'COG4',
      'Clients are machines holding API keys checked by the Lambda REQUEST authorizer (hashed keys in the table, ' +
        'revocable, expiring); there are no Cognito users.',
    );
    acknowledge(
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The account-level API Gateway CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, the managed policy ' +
        'AWS documents for it; it writes only API Gateway logs.',
    );
    return api;
  }
}
