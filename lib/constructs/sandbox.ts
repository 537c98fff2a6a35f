import { ArnFormat, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiFlavour } from '#contracts/api.ts';
import { ENV } from '#contracts/environment.ts';
import { BuzzerFunction } from './buzzer-function.ts';

/** One sandbox route a caller may be granted: API Gateway checks `execute-api:Invoke` on `<stage>/<METHOD><path>`. */
export interface SandboxRoute {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** The request path, e.g. `/v1/charges`. */
  readonly path: string;
}

/** What the saga's payment steps call: charge and refund. */
export const SANDBOX_PAYMENT_ROUTES: readonly SandboxRoute[] = [
  { method: 'POST', path: '/v1/charges' },
  // A charge whose answer was lost is found by its order (docs/payment-provider.md).
  { method: 'GET', path: '/v1/charges' },
  { method: 'POST', path: '/v1/refunds' },
];

/** What the notify worker calls: record one mail. Listing mail (`GET /v1/mail`) is for tests and operators only. */
export const SANDBOX_MAIL_ROUTES: readonly SandboxRoute[] = [{ method: 'POST', path: '/v1/mail' }];

export interface SandboxProps {
  /** @default logs.RetentionDays.ONE_WEEK */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The same flavour as the client API's: a REST API where API Gateway v2 is not available (the free LocalStack).
   * @default 'http'
   */
  readonly flavour?: ApiFlavour;
}

/** The REST flavour's stage; its URL ends in `/sandbox`. */
const REST_STAGE = 'sandbox';

/**
 * A sandbox payment provider and mail sink deployed with the stack. Its behaviour is chosen by test tokens the way
 * card networks' test cards work (`tok_ok`, `tok_decline`, `tok_timeout`, `tok_flaky`…), and it records every charge,
 * refund and mail by idempotency key, so tests count effects at the receiving side. It holds no real money or mail.
 * Deployed only with `-c sandbox=true`; its API takes SigV4-signed requests only (AWS_IAM on every route).
 */
export class Sandbox extends Construct {
  public readonly table: dynamodb.Table;
  /** The payment provider (and every other route but `POST /v1/mail` on the HTTP flavour). */
  public readonly handler: BuzzerFunction;
  /**
   * The mail sink: the same code as `handler`, deployed apart and behind `POST /v1/mail` (HTTP flavour), so mail and
   * payments each have their own concurrency, as SES and a card processor would: a mail burst (a campaign through the
   * burst mail service) cannot queue charges behind its sends, and the provider's figures (invocations, waits for an
   * environment) are the payments' alone.
   */
  public readonly mailSink?: BuzzerFunction;
  public readonly httpApi?: apigwv2.HttpApi;
  public readonly restApi?: apigw.RestApi;

  constructor(scope: Construct, id: string, props: SandboxProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.handler = new BuzzerFunction(this, 'Provider', {
      entry: 'sandbox/provider.ts',
      serviceName: 'sandbox-provider',
      // tok_timeout sleeps 10 s (plus up to 15 s of injected latency) to outlast every client timeout; 29 s stays
      // under the HTTP API's 30 s integration limit.
      timeout: Duration.seconds(29),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
      environment: { [ENV.SANDBOX_TABLE_NAME]: this.table.tableName },
    });
    this.handler.grantWholeTable(this.table, {
      actions: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Scan',
      ],
      reason:
        'The sandbox owns every item of its own ledger table (test data only); its ledger and mail listings scan it.',
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.flavour === 'rest') {
      this.restApi = this.buildRestApi(accessLogs);
      return;
    }
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Buzzer sandbox payment provider and mail sink (test data only)',
      createDefaultStage: false,
    });
    this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 200, burstLimit: 400 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    // Every route needs a SigV4 signature from a principal granted execute-api:Invoke on it (grantInvoke): the API
    // can list customers' mail, set faults and refund charges, so its URL alone must not be enough.
    this.httpApi.addRoutes({
      path: '/{proxy+}',
      methods: [apigwv2.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('ProviderIntegration', this.handler.function),
      authorizer: new HttpIamAuthorizer(),
    });
    this.mailSink = new BuzzerFunction(this, 'MailSink', {
      entry: 'sandbox/provider.ts',
      serviceName: 'sandbox-mail-sink',
      timeout: Duration.seconds(29),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
      environment: { [ENV.SANDBOX_TABLE_NAME]: this.table.tableName },
    });
    // Recording a mail: count the call, read the fault knobs and the key's record, put the mail once. The mail
    // listing (GET /v1/mail, a scan) stays on the provider's route.
    this.table.grant(this.mailSink.role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    // The most specific route wins: every mail request the senders make comes here, nothing else does.
    for (const route of SANDBOX_MAIL_ROUTES) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: new HttpLambdaIntegration('MailSinkIntegration', this.mailSink.function),
        authorizer: new HttpIamAuthorizer(),
      });
    }
  }

  /** The REST flavour: the same one proxy route, AWS_IAM on every method. */
  private buildRestApi(accessLogs: logs.LogGroup): apigw.RestApi {
    const api = new apigw.RestApi(this, 'RestApi', {
      description: 'Buzzer sandbox payment provider and mail sink (test data only)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // The client API's RestApi creates the account's API Gateway CloudWatch role; one per account and region.
      cloudWatchRole: false,
      deployOptions: {
        stageName: REST_STAGE,
        throttlingRateLimit: 200,
        throttlingBurstLimit: 400,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
      },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    });
    api.root
      .addResource('{proxy+}')
      .addMethod('ANY', new apigw.LambdaIntegration(this.handler.function, { allowTestInvoke: false }));
    const acknowledge = (id: string, reason: string) =>
      Validations.of(api).acknowledge({ id: `AwsSolutions::AwsSolutions-${id}`, reason });
    acknowledge(
      'APIG2',
      "The sandbox's one proxy route validates every request itself (zod) and answers in the provider's error format.",
    );
    acknowledge(
      'APIG3',
      'Test data only, and every route needs a SigV4 signature (AWS_IAM): no WAF for a sandbox.',
    );
    acknowledge(
      'COG4',
      'Callers are the stack’s own functions and operators, signed with IAM (AWS_IAM on every method).',
    );
    return api;
  }

  /** Lets `grantee` call exactly these routes (signed with its own credentials). */
  public grantInvoke(grantee: iam.IGrantable, routes: readonly SandboxRoute[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((route) =>
        Stack.of(this).formatArn({
          service: 'execute-api',
          resource: this.restApi ? this.restApi.restApiId : (this.httpApi as apigwv2.HttpApi).apiId,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          resourceName: `${this.restApi ? REST_STAGE : '$default'}/${route.method}${route.path}`,
        }),
      ),
    });
  }

  /** Base URL of the sandbox API, without a trailing slash. */
  public get url(): string {
    if (!this.restApi) return (this.httpApi as apigwv2.HttpApi).apiEndpoint;
    const stack = Stack.of(this);
    return Fn.join('', [
      'https://',
      this.restApi.restApiId,
      `.execute-api.${stack.region}.${stack.urlSuffix}/`,
      this.restApi.deploymentStage.stageName,
    ]);
  }
}
