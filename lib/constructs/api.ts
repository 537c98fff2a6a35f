import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
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
}

/**
 * The client-facing HTTP API: orders and webhook registration, every route behind the API-key Lambda authorizer, so
 * each caller is a client identity that only ever sees its own orders and webhooks.
 */
export class Api extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly authorizer: BuzzerFunction;
  public readonly handlers: Record<string, BuzzerFunction> = {};
  private readonly table: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.table = props.table;
    const env = { [ENV.TABLE_NAME]: props.table.tableName };

    this.authorizer = new BuzzerFunction(this, 'Authorizer', {
      entry: 'clients/authorizer.ts',
      serviceName: 'api-authorizer',
      environment: env,
    });
    this.authorizer.grantTableAccess(props.table);

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Buzzer: accept orders now, finish them later',
      createDefaultStage: false,
      defaultAuthorizer: new HttpLambdaAuthorizer('ApiKeyAuthorizer', this.authorizer.function, {
        responseTypes: [HttpLambdaResponseType.SIMPLE],
        identitySource: ['$request.header.Authorization'],
        resultsCacheTtl: props.authorizerCacheTtl ?? AUTHORIZER_CACHE_TTL,
      }),
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 500, burstLimit: props.throttleBurstLimit ?? 1000 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });

    // Each route's table access is declared per handler in lib/constructs/table-access.ts.
    const waits = { timeout: ORDER_ROUTE_TIMEOUT };
    this.addRoute('AcceptOrder', apigwv2.HttpMethod.POST, '/orders', 'orders/accept-order.ts', {}, waits);
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
  }

  /**
   * Adds a route served by its own function, allowed on the table exactly what lib/constructs/table-access.ts declares
   * for `entry`. A construct that owns other resources a route needs (e.g. the webhook delivery queue) adds the route
   * here and grants the rest itself.
   */
  public addRoute(
    key: string,
    method: apigwv2.HttpMethod,
    path: string,
    entry: string,
    environment: Record<string, string> = {},
    options: { timeout?: Duration } = {},
  ): BuzzerFunction {
    const fn = new BuzzerFunction(this, key, {
      entry,
      serviceName: `api-${key}`,
      environment: { [ENV.TABLE_NAME]: this.table.tableName, ...environment },
      ...options,
    });
    fn.grantTableAccess(this.table);
    this.handlers[key] = fn;
    this.httpApi.addRoutes({
      path,
      methods: [method],
      integration: new HttpLambdaIntegration(`${key}Integration`, fn.function),
    });
    return fn;
  }

  /** The API's base URL (`https://<id>.execute-api.<region>.amazonaws.com`). */
  public get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
