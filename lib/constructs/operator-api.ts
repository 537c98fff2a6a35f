import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import { OPERATOR_GROUP, OPERATOR_ROUTES } from '#contracts/operator-api.ts';
import { DeploymentConfigError } from '../deployment-config-error.ts';
import { BuzzerFunction } from './buzzer-function.ts';

/** One dead-letter queue the operators look into, with the work queue it catches failures of. */
export interface OperatorQueueSpec {
  readonly alias: string;
  readonly deadLetterQueue: sqs.IQueue;
  /** Where a redrive moves its messages back to; absent when a function or a schedule feeds the DLQ directly. */
  readonly source?: sqs.IQueue;
  /** The work queue's age alarm threshold (shown by the console). */
  readonly maxAge?: Duration;
}

export interface OperatorApiProps {
  readonly table: dynamodb.ITable;
  readonly sagaStateMachine: sfn.StateMachine;
  readonly settlementStateMachine: sfn.StateMachine;
  /** The bus the outbox relay's replay publishes to. */
  readonly bus: events.IEventBus;
  /** Every DLQ of the stack by operator alias (lib/constructs/operations.ts finds them). */
  readonly queues: readonly OperatorQueueSpec[];
  /** The alias of the outbox relay's DLQ, whose records the relay replay deletes once republished. @default 'relay' */
  readonly relayAlias?: string;
  /**
   * Where the web console is served from (`https://<distribution>.cloudfront.net`): the sign-in returns to its root,
   * and the API answers browsers of that origin (CORS). @default ['http://localhost:5173'] (a console built and
   * served from a checkout, e.g. `npx vite preview console`)
   */
  readonly consoleOrigins?: readonly string[];
  /**
   * The hosted sign-in's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), unique in the region: lower-case
   * letters, digits and hyphens, without `aws`, `amazon` or `cognito`. @default `<stack name>-ops-<account>`
   */
  readonly signInDomainPrefix?: string;
  /** How long an operator's sign-in lasts before it must be repeated (the refresh token). @default Duration.hours(12) */
  readonly sessionLength?: Duration;
  /** @default RemovalPolicy.RETAIN: the operators' accounts outlive a stack replaced by mistake */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The hosted sign-in's domain prefix when none is given: `<stack name>-ops-<account>`, unique in the region. */
export function defaultSignInDomainPrefix(stack: Stack): string {
  return `${stack.stackName.toLowerCase()}-ops-${Aws.ACCOUNT_ID}`;
}

/**
 * The operator API: the web console's routes (contracts/operator-api.ts) on an HTTP API, every one behind a Cognito
 * user pool of operators (JWT authorizer, access tokens of the console's app client), served by one Lambda with the
 * operator CLI's code (functions/operations/operator-api.ts). The function may touch exactly what the routes use: the
 * DLQs and their work queues, the saga and settlement state machines, the bus and the table's stream (relay replay) and
 * the table items and index partitions of lib/constructs/table-access.ts.
 *
 * Why a user pool and not IAM: the console is a static page in a browser. IAM would need an identity pool handing
 * AWS credentials to the browser and SigV4 signing there; a user pool gives the page an OAuth sign-in (hosted UI,
 * authorization code with PKCE, MFA) and a bearer token API Gateway checks before any function runs.
 */
export class OperatorApi extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly consoleClient: cognito.UserPoolClient;
  public readonly signInDomain: cognito.UserPoolDomain;
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly handler: BuzzerFunction;
  public readonly routes: apigwv2.HttpRoute[] = [];

  constructor(scope: Construct, id: string, props: OperatorApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const consoleOrigins = [...(props.consoleOrigins ?? ['http://localhost:5173'])];
    const domainPrefix = props.signInDomainPrefix ?? defaultSignInDomainPrefix(stack);
    validate(props, consoleOrigins, domainPrefix);
    const consoleUrls = consoleOrigins.map((origin) => `${origin}/`);

    // --- who may sign in: operators an administrator created, in the operators group, with a second factor -------
    this.userPool = new cognito.UserPool(this, 'Operators', {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const rule of ['COG3', 'COG8']) {
      Validations.of(this.userPool).acknowledge({
        id: `AwsSolutions::AwsSolutions-${rule}`,
        reason:
          'Threat protection (the Plus feature plan) is priced per user and made for public sign-up; this pool ' +
          'has a handful of operators an administrator creates, no self sign-up, and a required TOTP second factor.',
      });
    }
    new cognito.CfnUserPoolGroup(this, 'OperatorsGroup', {
      userPoolId: this.userPool.userPoolId,
      groupName: OPERATOR_GROUP,
      description: 'May use the operator API (the web console): redrive, replay, run settlement exports',
    });
    this.signInDomain = this.userPool.addDomain('SignIn', {
      cognitoDomain: { domainPrefix },
      managedLoginVersion: cognito.ManagedLoginVersion.CLASSIC_HOSTED_UI,
    });
    const sessionLength = props.sessionLength ?? Duration.hours(12);
    this.consoleClient = this.userPool.addClient('Console', {
      // A browser page keeps no secret: authorization code with PKCE.
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: consoleUrls,
        logoutUrls: consoleUrls,
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: sessionLength,
      enableTokenRevocation: true,
    });

    // --- the function: the route table, with the stack's names in its environment ------------------------------
    const queues = Object.fromEntries(
      props.queues.map((q) => [
        q.alias,
        {
          dlq: q.deadLetterQueue.queueUrl,
          ...(q.source ? { source: q.source.queueUrl } : {}),
          ...(q.maxAge ? { maxAgeSeconds: q.maxAge.toSeconds() } : {}),
        },
      ]),
    );
    this.handler = new BuzzerFunction(this, 'Handler', {
      entry: 'operations/operator-api.ts',
      serviceName: 'operator-api',
      // Under API Gateway's 29 s integration limit; a DLQ redrive stops waiting for its move task at 15 s.
      timeout: Duration.seconds(25),
      memorySize: 512,
      logRetention: props.logRetention,
      environment: {
        [ENV.STACK_NAME]: stack.stackName,
        [ENV.TABLE_NAME]: props.table.tableName,
        [ENV.STATE_MACHINE_ARN]: props.sagaStateMachine.stateMachineArn,
        [ENV.SETTLEMENT_STATE_MACHINE_ARN]: props.settlementStateMachine.stateMachineArn,
        [ENV.EVENT_BUS_NAME]: props.bus.eventBusName,
        [ENV.OPERATOR_QUEUES]: stack.toJsonString(queues),
      },
    });
    this.grantOperatorAccess(props);

    // --- the API: every route of the contract, each behind the user pool authorizer -----------------------------
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Buzzer operator API (the web console): operators of the Cognito user pool only',
      createDefaultStage: false,
      defaultAuthorizer: new HttpUserPoolAuthorizer('Operators', this.userPool, {
        userPoolClients: [this.consoleClient],
        identitySource: ['$request.header.Authorization'],
      }),
      // Preflights carry no token, so API Gateway answers them itself (they reach no route and no function).
      corsPreflight: {
        allowOrigins: consoleOrigins,
        allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 20, burstLimit: 40 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    const integration = new HttpLambdaIntegration('Handler', this.handler.function);
    for (const route of OPERATOR_ROUTES) {
      this.routes.push(
        ...this.httpApi.addRoutes({
          path: route.path,
          methods: [route.method as apigwv2.HttpMethod],
          integration,
        }),
      );
    }
  }

  /** The API's base URL (`https://<id>.execute-api.<region>.amazonaws.com`). */
  public get url(): string {
    return this.httpApi.apiEndpoint;
  }

  /** The hosted sign-in's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`). */
  public get signInUrl(): string {
    return this.signInDomain.baseUrl();
  }

  /** What the routes use, and only that (the table's part is declared in lib/constructs/table-access.ts). */
  private grantOperatorAccess(props: OperatorApiProps): void {
    const fn = this.handler;
    fn.grantTableAccess(props.table);
    const relayAlias = props.relayAlias ?? 'relay';
    const dlqs = props.queues.map((q) => q.deadLetterQueue.queueArn);
    // Depth, peek (receive, then make visible again at once) on every DLQ.
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'],
        resources: dlqs,
      }),
    );
    // A redrive is a message move task from a DLQ to its work queue; the relay replay deletes what it republished.
    const redrivable = props.queues.filter((q) => q.source);
    const relay = props.queues.find((q) => q.alias === relayAlias);
    const deletable = [...redrivable, ...(relay ? [relay] : [])].map((q) => q.deadLetterQueue.queueArn);
    if (redrivable.length > 0) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks'],
          resources: redrivable.map((q) => q.deadLetterQueue.queueArn),
        }),
      );
      // The move task's destination, and the webhook replay's delivery queue.
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: redrivable.map((q) => (q.source as sqs.IQueue).queueArn),
        }),
      );
    }
    if (deletable.length > 0) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sqs:DeleteMessage'], resources: deletable }),
      );
    }
    // Saga and settlement export: list executions, read their history, start, redrive. Execution names are per
    // order or per run, so only a wildcard on the execution name of each one state machine can name them.
    const stack = Stack.of(this);
    const placeholder = (value: string, pseudo: string) =>
      Token.isUnresolved(value) ? `<${pseudo}>` : value;
    for (const machine of [props.sagaStateMachine, props.settlementStateMachine]) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeStateMachine', 'states:ListExecutions', 'states:StartExecution'],
          resources: [machine.stateMachineArn],
        }),
      );
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:RedriveExecution'],
          resources: [
            stack.formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${machine.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      );
      const machineId = stack.getLogicalId(machine.node.defaultChild as sfn.CfnStateMachine);
      Validations.of(fn.role).acknowledge({
        id:
          `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${placeholder(stack.region, 'AWS::Region')}:` +
          `${placeholder(stack.account, 'AWS::AccountId')}:execution:<${machineId}.Name>:*]`,
        reason:
          'Describe, history and redrive of the executions of this one state machine: their names are per order ' +
          '(saga) or per run (settlement), so only a wildcard on the execution name can name them.',
      });
    }
    props.bus.grantPutEventsTo(fn.role);
    // The relay replay reads back the stream batches the relay's mapping gave up on (ops/cli/stream-batch.ts): an
    // iterator at the batch's first record of the shard it names, then its records. Only those two calls, on this
    // table's stream only; it finds PENDING items by no scan (the CLI's --pending-older-than is not offered here).
    props.table.grantStream(fn.role, 'dynamodb:GetShardIterator', 'dynamodb:GetRecords');
  }
}

function validate(props: OperatorApiProps, consoleOrigins: string[], domainPrefix: string): void {
  if (props.queues.length === 0)
    throw new DeploymentConfigError('OperatorApi: no dead-letter queues to operate');
  const aliases = new Set<string>();
  for (const { alias } of props.queues) {
    if (aliases.has(alias))
      throw new DeploymentConfigError(`OperatorApi: two queues share the alias "${alias}"`);
    aliases.add(alias);
  }
  if (consoleOrigins.length === 0)
    throw new DeploymentConfigError('OperatorApi: consoleOrigins needs at least one origin');
  for (const origin of consoleOrigins) {
    if (Token.isUnresolved(origin)) continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // Cognito takes http only for localhost; anything else must be https.
    const local = parsed?.protocol === 'http:' && parsed.hostname === 'localhost';
    if (!parsed || parsed.origin !== origin || (parsed.protocol !== 'https:' && !local))
      throw new DeploymentConfigError(
        `OperatorApi: console origin "${origin}" must be https://host (or http://localhost:port), no path`,
      );
  }
  if (!Token.isUnresolved(domainPrefix)) {
    if (!DOMAIN_PREFIX.test(domainPrefix) || /aws|amazon|cognito/.test(domainPrefix))
      throw new DeploymentConfigError(
        `OperatorApi: sign-in domain prefix "${domainPrefix}" must be lower-case letters, digits and hyphens ` +
          '(at most 63), without aws, amazon or cognito (-c operatorSignInDomain=…)',
      );
  }
  const session = props.sessionLength;
  if (session && (session.toMinutes() < 60 || session.toDays() > 3650))
    throw new DeploymentConfigError('OperatorApi: sessionLength must be between 1 hour and 10 years');
}
