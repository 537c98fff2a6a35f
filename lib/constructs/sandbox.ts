import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BuzzerFunction } from './buzzer-function.ts';

export interface SandboxProps {
  /** @default logs.RetentionDays.ONE_WEEK */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A sandbox payment provider and mail sink deployed with the stack. Its behaviour is chosen by test tokens the way
 * card networks' test cards work (`tok_ok`, `tok_decline`, `tok_timeout`, `tok_flaky`…), and it records every charge,
 * refund and mail by idempotency key, so tests count effects at the receiving side. It holds no real money or mail.
 */
export class Sandbox extends Construct {
  public readonly table: dynamodb.Table;
  public readonly handler: BuzzerFunction;
  public readonly httpApi: apigwv2.HttpApi;

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
      environment: { SANDBOX_TABLE_NAME: this.table.tableName },
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

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Buzzer sandbox payment provider and mail sink (test data only)',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 200, burstLimit: 400 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    this.httpApi.addRoutes({
      path: '/{proxy+}',
      methods: [apigwv2.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('ProviderIntegration', this.handler.function),
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        'The sandbox is a test double for a third-party payment provider and mail service, called by the saga over ' +
        'HTTP without credentials as a provider test mode is. Anyone with its URL can read the mail it recorded and ' +
        'set its faults, so a deployment with it is for trials with test data (README, Deploying to AWS); with ' +
        'paymentProviderUrl and mailTransport=ses the stack leaves it out.',
    });
  }

  /** Base URL of the sandbox API, without a trailing slash. */
  public get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
