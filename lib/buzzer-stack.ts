import { CfnOutput, type Duration, Fn, type RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  API_FLAVOURS,
  type ApiFlavour,
  clientLimitsProblem,
  DEFAULT_ORDER_FLOW,
  ORDER_FLOWS,
  type OrderFlow,
} from '#contracts/api.ts';
import { DEFAULT_CIRCUIT_FAILURE_THRESHOLD, DEFAULT_CIRCUIT_OPEN_SECONDS } from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { DETAIL_TYPES } from '#contracts/events.ts';
import { DEFAULT_MAIL_SERVICE, MAIL_SERVICES, type MailServiceName } from '#contracts/mail.ts';
import { settlementSecretName } from '#contracts/settlement.ts';
import {
  type BackPressureSettings,
  deployedWorkQueue,
  resolveBackPressure,
  type WorkQueueName,
} from './back-pressure.ts';
import { Api } from './constructs/api.ts';
import type { BuzzerFunction } from './constructs/buzzer-function.ts';
import { ConsoleSite } from './constructs/console-site.ts';
import { Data } from './constructs/data.ts';
import { EventBus } from './constructs/event-bus.ts';
import { MailService } from './constructs/mail-service.ts';
import { Operations } from './constructs/operations.ts';
import { defaultSignInDomainPrefix, OperatorApi } from './constructs/operator-api.ts';
import { OutboxRelay } from './constructs/outbox-relay.ts';
import { AFTER_ORDER_BATCHING_WINDOW, QueueWorker } from './constructs/queue-worker.ts';
import {
  grantPaymentProvider,
  type PaymentProvider,
  Saga,
  type SagaProps,
  type SagaWorkflowType,
} from './constructs/saga.ts';
import { SANDBOX_MAIL_ROUTES, Sandbox } from './constructs/sandbox.ts';
import { SettlementExport, type SettlementPartner } from './constructs/settlement-export.ts';
import { SettlementImport } from './constructs/settlement-import.ts';
import { Webhooks } from './constructs/webhooks.ts';
import { DeploymentConfigError } from './deployment-config-error.ts';

/** What the CloudFormation console and `cdk deploy` show next to the stack's name. */
export const STACK_DESCRIPTION =
  'Buzzer: accept now, finish later. Orders through a transactional outbox, EventBridge, a Step Functions saga and SQS workers, with signed webhooks.';

export interface BuzzerStackProps extends StackProps {
  /** @default 'STANDARD' (see SagaProps.workflowType) */
  readonly workflowType?: SagaWorkflowType;
  /**
   * Deploy the sandbox payment provider and mail sink and use them (test data only: no real money, no real mail).
   * Exclusive with `paymentProviderUrl`; one of the two is required.
   * @default false
   */
  readonly sandbox?: boolean;
  /** A real payment provider's base URL (https). Requires `paymentProviderSecretArn`, `mailTransport: 'ses'`, `mailFrom`. */
  readonly paymentProviderUrl?: string;
  /** Full ARN of the Secrets Manager secret holding the real provider's API key (sent as `Authorization: Bearer`). */
  readonly paymentProviderSecretArn?: string;
  /**
   * How customer mail leaves: `ses` sends with Amazon SES from `mailFrom`; `sink` records it in the sandbox.
   * @default 'sink' with the sandbox; a real provider requires 'ses'
   */
  readonly mailTransport?: 'ses' | 'sink';
  /** Verified SES sender, required when mailTransport is `ses`. */
  readonly mailFrom?: string;
  /** @default failure threshold 5, open interval 30 s (see SagaProps.paymentCircuit) */
  readonly paymentCircuit?: SagaProps['paymentCircuit'];
  /** @default Duration.minutes(15) (see SagaProps.paymentHold) */
  readonly paymentHold?: Duration;
  /** @default 20 (see SagaProps.paymentReleasePerSecond) */
  readonly paymentReleasePerSecond?: number;
  /**
   * The mail transport's circuit breaker: `failureThreshold` failed sends in a row open it; while it is open (for
   * `openInterval`, then one probe) the notify worker sends nothing and puts each message back on its queue, delayed,
   * so no mail is dropped or dead-lettered by an outage.
   * @default { failureThreshold: 5, openInterval: Duration.seconds(30) }
   */
  readonly mailCircuit?: { readonly failureThreshold?: number; readonly openInterval?: Duration };
  /**
   * Per work queue (`saga-start`, `notify`, `points`, `webhooks-fan-out`, `webhooks-delivery`): its consumer's
   * maximum concurrency and the age of the oldest message that raises its alarm (lib/back-pressure.ts).
   * @default DEFAULT_MAX_CONCURRENCY and DEFAULT_MAX_AGE_SECONDS of lib/back-pressure.ts
   */
  readonly backPressure?: BackPressureSettings;
  /**
   * Which mail service sends customer mail: `notify`, the notify worker on the order events; `burst`, a mail service
   * built for bursts from many producers (a mail request queue fed by the order events and by operators' campaigns, a
   * batched sender, a sent-mail table keyed by recipient). The notify worker is not deployed with `burst`.
   * @default 'notify'
   */
  readonly mailService?: MailServiceName;
  /**
   * How `POST /orders` is served (`-c orderFlow=sync`): `async`, accepted at once (202) and finished by the saga;
   * `sync`, placed within the request by `PlaceOrderSync` (functions/orders/place-order-sync.ts: stock, payment with
   * the saga's retries, the customer's mail), answering 200 with the order CONFIRMED or CANCELLED. Every other route,
   * the relay, the saga and the consumers are deployed either way: the sync path writes the terminal outbox message
   * (never `OrderPlaced`), so points, webhooks and the mail of other orders work as before. Case 1 of the four-case
   * experiment under bursts (bench/README.md).
   * @default 'async'
   */
  readonly orderFlow?: OrderFlow;
  /** @default 400 (see SagaProps.orderRetentionDays) */
  readonly orderRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The client API's flavour (`-c apiFlavour=http|rest`): `http` is an HTTP API, `rest` a REST API with usage plans
   * (lib/constructs/api.ts). @default 'http'
   */
  readonly apiFlavour?: string;
  /** Each client's default requests a second (`-c clientRateLimit=`). @default 50 */
  readonly clientRateLimit?: number;
  /** Each client's default burst (`-c clientBurstLimit=`). @default 100 */
  readonly clientBurstLimit?: number;
  /** REST flavour: each client's requests a day in the standard usage plan (`-c clientDailyQuota=`). @default 100000 */
  readonly clientDailyQuota?: number;
  /**
   * Settlement file partners (`-c settlementPartners=acquirer:csv,accountant:jsonl:/inbox`): name, format (`csv`,
   * `kv`, `jsonl`) and an optional folder on the partner's SFTP server (lib/constructs/settlement-export.ts).
   * @default [{ name: 'acquirer', format: 'csv' }]
   */
  readonly settlementPartners?: readonly SettlementPartner[];
  /** IANA time zone of the settlement business day and schedule (`-c settlementTimeZone=`). @default 'UTC' */
  readonly settlementTimeZone?: string;
  /**
   * The built web console (console/dist) to host as a static site on CloudFront, signed in through the operators'
   * user pool (lib/constructs/console-site.ts). `cdk synth`/`deploy` build it (bin/app.ts; `-c consoleSite=false`
   * leaves it out). @default no static site: the operator API alone
   */
  readonly consoleDist?: string;
  /** The operators' hosted sign-in domain prefix (`-c operatorSignInDomain=`). @default `<stack name>-ops-<account>` */
  readonly operatorSignInDomain?: string;
  /**
   * Deploy the operator API, its user pool and the console's static site (`-c operatorApi=false` leaves all three
   * out: the free LocalStack image has no Cognito, CloudFront or HTTP APIs). @default true
   */
  readonly operatorApi?: boolean;
}

/** Checks the client API settings; the messages name the context keys. */
export function validateApiSettings(props: BuzzerStackProps): {
  flavour: ApiFlavour;
  rateLimit?: number;
  burstLimit?: number;
  dailyQuota?: number;
} {
  const flavour = props.apiFlavour ?? 'http';
  if (!(API_FLAVOURS as readonly string[]).includes(flavour)) {
    throw new DeploymentConfigError(
      `Buzzer: apiFlavour must be "http" (HTTP API, the default) or "rest" (REST API with usage plans), got "${flavour}"`,
    );
  }
  const { clientRateLimit, clientBurstLimit, clientDailyQuota } = props;
  const problem = clientLimitsProblem(
    { rateLimit: clientRateLimit ?? 1, burstLimit: clientBurstLimit ?? 1 },
    { rate: '-c clientRateLimit', burst: '-c clientBurstLimit' },
  );
  if (problem) throw new DeploymentConfigError(`Buzzer: ${problem}`);
  if (clientDailyQuota !== undefined && (!Number.isInteger(clientDailyQuota) || clientDailyQuota < 1)) {
    throw new DeploymentConfigError(
      `Buzzer: -c clientDailyQuota must be a whole number of requests a day, 1 or more, got ${clientDailyQuota}`,
    );
  }
  return {
    flavour: flavour as ApiFlavour,
    ...(clientRateLimit !== undefined ? { rateLimit: clientRateLimit } : {}),
    ...(clientBurstLimit !== undefined ? { burstLimit: clientBurstLimit } : {}),
    ...(clientDailyQuota !== undefined ? { dailyQuota: clientDailyQuota } : {}),
  };
}

export { DeploymentConfigError };

type ProviderChoice = { kind: 'sandbox' } | { kind: 'external'; url: string; secretArn: string };

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

const REAL_DEPLOYMENT =
  '-c paymentProviderUrl=https://<provider> -c paymentProviderSecretArn=<secret ARN> -c mailTransport=ses ' +
  '-c mailFrom=<verified sender>';

/**
 * Checks the deployment choice before anything is built. A stack is either a trial with the sandbox (explicit
 * `sandbox=true`: test payments, mail kept in the sink) or real (an https provider with its key in Secrets Manager,
 * mail through SES); never a mix, and never the sandbox by default.
 */
export function validateDeployment(props: BuzzerStackProps): {
  mailTransport: 'ses' | 'sink';
  provider: ProviderChoice;
  mailService: MailServiceName;
  orderFlow: OrderFlow;
} {
  const mailService = props.mailService ?? DEFAULT_MAIL_SERVICE;
  if (!(MAIL_SERVICES as readonly string[]).includes(mailService)) {
    throw new DeploymentConfigError(
      `Buzzer: mailService must be ${MAIL_SERVICES.map((m) => `"${m}"`).join(' or ')} (-c mailService=burst for ` +
        `the mail service built for bursts from many producers), got "${String(mailService)}"`,
    );
  }
  const orderFlow = props.orderFlow ?? DEFAULT_ORDER_FLOW;
  if (!(ORDER_FLOWS as readonly string[]).includes(orderFlow)) {
    throw new DeploymentConfigError(
      `Buzzer: orderFlow must be ${ORDER_FLOWS.map((f) => `"${f}"`).join(' or ')} (-c orderFlow=sync serves ` +
        `POST /orders within the request: payment and mail before a 200), got "${String(orderFlow)}"`,
    );
  }
  return { ...validateProvider(props), mailService, orderFlow };
}

function validateProvider(props: BuzzerStackProps): {
  mailTransport: 'ses' | 'sink';
  provider: ProviderChoice;
} {
  const { sandbox = false, paymentProviderUrl, paymentProviderSecretArn, mailFrom } = props;
  if (sandbox && paymentProviderUrl) {
    throw new DeploymentConfigError(
      'Buzzer: sandbox=true and paymentProviderUrl exclude each other: set -c sandbox=true for a trial with test ' +
        `data, or ${REAL_DEPLOYMENT} for a real deployment, not both`,
    );
  }
  if (!sandbox && !paymentProviderUrl) {
    throw new DeploymentConfigError(
      'Buzzer: no payment provider. For a real deployment set ' +
        `${REAL_DEPLOYMENT}; for a trial with test data only (sandbox payment provider and mail sink, no real ` +
        'money or mail) set -c sandbox=true',
    );
  }
  const mailTransport = props.mailTransport ?? (sandbox ? 'sink' : undefined);
  if (mailTransport !== undefined && mailTransport !== 'ses' && mailTransport !== 'sink') {
    throw new DeploymentConfigError(
      `Buzzer: mailTransport must be "ses" or "sink", got "${String(mailTransport)}"`,
    );
  }
  if (mailTransport === 'ses' && !mailFrom) {
    throw new DeploymentConfigError(
      'Buzzer: mailFrom (a verified SES identity) is required when mailTransport is "ses"',
    );
  }
  if (sandbox) return { mailTransport: mailTransport ?? 'sink', provider: { kind: 'sandbox' } };

  const url = paymentProviderUrl ?? '';
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'https:') {
    throw new DeploymentConfigError(
      `Buzzer: paymentProviderUrl must be an https URL (card tokens and the provider key travel on it), got "${url}"`,
    );
  }
  if (!paymentProviderSecretArn || !SECRET_ARN.test(paymentProviderSecretArn)) {
    throw new DeploymentConfigError(
      'Buzzer: paymentProviderUrl needs -c paymentProviderSecretArn=<the full ARN of the Secrets Manager secret ' +
        'holding the provider API key>' +
        (paymentProviderSecretArn ? `; "${paymentProviderSecretArn}" is not one` : ''),
    );
  }
  if (mailTransport !== 'ses') {
    throw new DeploymentConfigError(
      'Buzzer: a real payment provider needs real mail: set -c mailTransport=ses -c mailFrom=<verified sender> ' +
        '(the mail sink exists only with -c sandbox=true)',
    );
  }
  return {
    mailTransport,
    provider: { kind: 'external', url: url.replace(/\/+$/, ''), secretArn: paymentProviderSecretArn },
  };
}

/** Buzzer: accept work now (202 + tracking id), finish it behind queues, tell the client when it is done. */
export class BuzzerStack extends Stack {
  public readonly data: Data;
  public readonly bus: EventBus;
  public readonly api: Api;
  public readonly relay: OutboxRelay;
  public readonly saga: Saga;
  /** The notify worker; absent with `mailService: 'burst'`, whose `mailService` sends the mail instead. */
  public readonly notifier?: QueueWorker;
  /** The burst mail service (`mailService: 'burst'`). */
  public readonly mailService?: MailService;
  public readonly points: QueueWorker;
  public readonly sandbox?: Sandbox;
  public readonly webhooks: Webhooks;
  public readonly operations: Operations;
  public readonly settlement: SettlementExport;
  /** The acquirer's settlement files, inbound: the inbox bucket and the import's state machine. */
  public readonly settlementImport: SettlementImport;
  /** The operator API (absent with `operatorApi: false`). */
  public readonly operatorApi?: OperatorApi;
  public readonly consoleSite?: ConsoleSite;

  constructor(scope: Construct, id: string, props: BuzzerStackProps = {}) {
    super(scope, id, { description: STACK_DESCRIPTION, ...props });
    // Cost-allocation tags on every taggable resource (activate them once in the Billing console): the bill splits
    // by project and by stack, so a trial stack next to production shows up on its own line.
    Tags.of(this).add('project', 'buzzer');
    Tags.of(this).add('stack', this.stackName);
    const { mailTransport, provider, mailService, orderFlow } = validateDeployment(props);
    const queues = resolveBackPressure(props.backPressure);
    const { flavour: apiFlavour, ...clientLimits } = validateApiSettings(props);
    this.data = new Data(this, 'Data', { removalPolicy: props.tableRemovalPolicy });
    const table = this.data.table;
    this.bus = new EventBus(this, 'Events');
    const paymentProvider: PaymentProvider =
      provider.kind === 'external'
        ? provider
        : { kind: 'sandbox', sandbox: new Sandbox(this, 'Sandbox', { flavour: apiFlavour }) };
    const sandbox = paymentProvider.kind === 'sandbox' ? paymentProvider.sandbox : undefined;
    this.sandbox = sandbox;

    this.api = new Api(this, 'Api', {
      table,
      logRetention: props.logRetention,
      flavour: apiFlavour,
      clientLimits,
      orderFlow,
    });
    this.relay = new OutboxRelay(this, 'OutboxRelay', { table, bus: this.bus.bus });
    this.saga = new Saga(this, 'Saga', {
      table,
      bus: this.bus.bus,
      paymentProvider,
      workflowType: props.workflowType,
      paymentCircuit: props.paymentCircuit,
      paymentHold: props.paymentHold,
      paymentReleasePerSecond: props.paymentReleasePerSecond,
      startConcurrency: queues['saga-start'].maxConcurrency,
      orderRetentionDays: props.orderRetentionDays,
      logRetention: props.logRetention,
    });

    const mailEnvironment = {
      [ENV.MAIL_TRANSPORT]: mailTransport,
      [ENV.MAIL_SINK_URL]: mailTransport === 'sink' && sandbox ? sandbox.url : '',
      [ENV.MAIL_FROM]: props.mailFrom ?? 'orders@buzzer.invalid',
      [ENV.MAIL_CIRCUIT_FAILURE_THRESHOLD]: String(
        props.mailCircuit?.failureThreshold ?? DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
      ),
      [ENV.MAIL_CIRCUIT_OPEN_SECONDS]: String(
        props.mailCircuit?.openInterval?.toSeconds() ?? DEFAULT_CIRCUIT_OPEN_SECONDS,
      ),
    };
    // The sink's mail route, or SES for the sender's identity and its domain: whichever function sends the mail.
    const grantMailTransport = (sender: BuzzerFunction) => {
      if (mailTransport === 'sink' && sandbox) sandbox.grantInvoke(sender.role, SANDBOX_MAIL_ROUTES);
      if (mailTransport === 'ses' && props.mailFrom) {
        const domain = props.mailFrom.split('@')[1] ?? props.mailFrom;
        sender.role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['ses:SendEmail'],
            resources: [
              this.formatArn({ service: 'ses', resource: 'identity', resourceName: props.mailFrom }),
              this.formatArn({ service: 'ses', resource: 'identity', resourceName: domain }),
            ],
          }),
        );
      }
    };

    if (this.api.orderFlow === 'sync') {
      // The synchronous POST /orders charges and mails within the request: the payment steps' environment (the same
      // values as AuthorizePayment's) and provider grant, and the notify worker's mail environment and transport.
      const placeOrder = this.api.placeOrder;
      for (const [name, value] of Object.entries({ ...this.saga.paymentStepEnvironment, ...mailEnvironment }))
        placeOrder.function.addEnvironment(name, value);
      grantPaymentProvider(placeOrder, paymentProvider);
      grantMailTransport(placeOrder);
    }

    if (mailService === 'burst') {
      this.mailService = new MailService(this, 'Mail', {
        bus: this.bus.bus,
        table,
        mailEnvironment,
        maxConcurrency: queues.mail.maxConcurrency,
        bulkMaxConcurrency: queues['mail-bulk'].maxConcurrency,
        removalPolicy: props.tableRemovalPolicy,
        logRetention: props.logRetention,
      });
      grantMailTransport(this.mailService.sender.handler);
    } else {
      this.notifier = new QueueWorker(this, 'Notifier', {
        bus: this.bus.bus,
        detailTypes: [DETAIL_TYPES.OrderConfirmed, DETAIL_TYPES.OrderCancelled],
        maxConcurrency: queues.notify.maxConcurrency,
        maxBatchingWindow: AFTER_ORDER_BATCHING_WINDOW,
        handler: {
          entry: 'notifications/send-notification.ts',
          serviceName: 'notify-worker',
          environment: { [ENV.TABLE_NAME]: table.tableName, ...mailEnvironment },
        },
      });
      this.notifier.handler.grantTableAccess(table);
      // A mail held by the open circuit goes back on the worker's own queue as a new, delayed message.
      this.notifier.queue.queue.grantSendMessages(this.notifier.handler.function);
      grantMailTransport(this.notifier.handler);
    }

    this.points = new QueueWorker(this, 'Points', {
      bus: this.bus.bus,
      detailTypes: [DETAIL_TYPES.OrderConfirmed],
      maxConcurrency: queues.points.maxConcurrency,
      maxBatchingWindow: AFTER_ORDER_BATCHING_WINDOW,
      handler: {
        entry: 'loyalty/credit-points.ts',
        serviceName: 'points-worker',
        environment: { [ENV.TABLE_NAME]: table.tableName },
      },
    });
    this.points.handler.grantTableAccess(table);

    this.webhooks = new Webhooks(this, 'Webhooks', {
      table,
      bus: this.bus.bus,
      api: this.api,
      fanOutConcurrency: queues['webhooks-fan-out'].maxConcurrency,
      maxConcurrency: queues['webhooks-delivery'].maxConcurrency,
      logRetention: props.logRetention,
    });

    const settlementPartners = props.settlementPartners ?? [{ name: 'acquirer', format: 'csv' }];
    this.settlement = new SettlementExport(this, 'Settlement', {
      table,
      partners: settlementPartners,
      timeZone: props.settlementTimeZone,
      removalPolicy: props.tableRemovalPolicy,
      logRetention: props.logRetention,
    });
    this.settlementImport = new SettlementImport(this, 'SettlementImport', {
      table,
      timeZone: props.settlementTimeZone,
      removalPolicy: props.tableRemovalPolicy,
      logRetention: props.logRetention,
    });

    // Last: it finds every dead-letter queue created above and gives each its alarms.
    this.operations = new Operations(this, 'Operations', {
      table,
      saga: this.saga,
      relay: this.relay,
      api: this.api,
      settlementStateMachine: this.settlement.stateMachine,
      settlementImportStateMachine: this.settlementImport.stateMachine,
      queueAliases: {
        notifier: 'notify',
        'mail-sender': 'mail',
        'outbox-relay': 'relay',
        'operations-reconciler': 'reconciler',
      },
      // The notify worker's queue, or the burst mail service's two lanes, whichever the stack has.
      workQueueMaxAge: Object.fromEntries(
        Object.entries(queues)
          .filter(([name]) => deployedWorkQueue(name as WorkQueueName, mailService))
          .map(([name, settings]) => [name, settings.maxAge]),
      ),
      logRetention: props.logRetention,
    });

    if (props.operatorApi ?? true) {
      const { operatorApi, consoleSite } = this.buildOperatorConsole(props, table);
      this.operatorApi = operatorApi;
      this.consoleSite = consoleSite;
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Client API base URL' });
    new CfnOutput(this, 'ApiFlavour', {
      value: apiFlavour,
      description: 'http (HTTP API) or rest (REST API)',
    });
    if (apiFlavour === 'rest') {
      new CfnOutput(this, 'ClientUsagePlans', {
        value: Fn.toJsonString(
          Object.fromEntries(
            Object.entries(this.api.usagePlans).map(([tier, plan]) => [tier, plan.usagePlanId]),
          ),
        ),
        description:
          "The REST API's usage plans by tier; buzzer keys create attaches each client's key to one",
      });
    }
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.bus.eventBusName });
    new CfnOutput(this, 'StateMachineArn', { value: this.saga.stateMachine.stateMachineArn });
    new CfnOutput(this, 'SettlementStateMachineArn', {
      value: this.settlement.stateMachine.stateMachineArn,
      description: 'The daily settlement export (buzzer batch run settlement --date YYYY-MM-DD)',
    });
    new CfnOutput(this, 'SettlementBucketName', { value: this.settlement.bucket.bucketName });
    new CfnOutput(this, 'SettlementImportStateMachineArn', {
      value: this.settlementImport.stateMachine.stateMachineArn,
      description: "The import of the acquirer's settlement files (buzzer batch runs --job import)",
    });
    new CfnOutput(this, 'SettlementInboxBucketName', {
      value: this.settlementImport.bucket.bucketName,
      description:
        "Drop the acquirer's settlement files under inbox/ (processed/, failed/, reports/ next to it)",
    });
    new CfnOutput(this, 'SettlementPartners', {
      value: JSON.stringify(
        Object.fromEntries(
          settlementPartners.map((p) => [p.name, settlementSecretName(this.stackName, p.name)]),
        ),
      ),
      description:
        "Each settlement partner's SFTP secret (fill in host, port, username, privateKey, hostKey)",
    });
    new CfnOutput(this, 'WebhookDeliveryDlqUrl', {
      value: this.webhooks.deliveryQueue.deadLetterQueue.queueUrl,
      description: 'Webhook deliveries that used up their attempts (redrive to replay them)',
    });
    if (this.sandbox) new CfnOutput(this, 'SandboxUrl', { value: this.sandbox.url });
    if (this.mailService) {
      new CfnOutput(this, 'MailCampaignFunctionName', {
        value: this.mailService.campaign.function.functionName,
        description:
          'Invoke with {"count": N} or {"recipients": [...]} to enqueue a campaign (buzzer mail campaign)',
      });
      new CfnOutput(this, 'SentMailTableName', { value: this.mailService.sentMail.tableName });
    }
    if (this.operatorApi) {
      // Last, so the client API and the sandbox keep their local ports (the local runtime numbers APIs in output order).
      new CfnOutput(this, 'OperatorApiUrl', {
        value: this.operatorApi.url,
        description: "The operator API (the web console's), for operators of the user pool only",
      });
      new CfnOutput(this, 'OperatorUserPoolId', {
        value: this.operatorApi.userPool.userPoolId,
        description:
          'Create operators here (README, "The web console on AWS") and add them to the operators group',
      });
      new CfnOutput(this, 'OperatorSignInUrl', { value: this.operatorApi.signInUrl });
    }
    if (this.consoleSite) {
      new CfnOutput(this, 'ConsoleUrl', {
        value: `${this.consoleSite.origin}/`,
        description: 'The web console: sign in as an operator',
      });
    }
  }

  /** The operator API, its user pool, and the console's static site when a built console is given. */
  private buildOperatorConsole(
    props: BuzzerStackProps,
    table: Data['table'],
  ): { operatorApi: OperatorApi; consoleSite?: ConsoleSite } {
    // The console's site first: the sign-in returns to it and the operator API answers its origin.
    const signInDomainPrefix = props.operatorSignInDomain ?? defaultSignInDomainPrefix(this);
    const consoleSite = props.consoleDist
      ? new ConsoleSite(this, 'Console', { distDir: props.consoleDist, signInDomainPrefix })
      : undefined;
    const maxAges = new Map(this.operations.workQueues.map((w) => [w.alias, w.maxAge]));
    const operatorApi = new OperatorApi(this, 'OperatorApi', {
      table,
      sagaStateMachine: this.saga.stateMachine,
      settlementStateMachine: this.settlement.stateMachine,
      bus: this.bus.bus,
      queues: this.operations.deadLetterQueues.map(({ alias, deadLetterQueue, source }) => ({
        alias,
        deadLetterQueue,
        ...(source ? { source } : {}),
        ...(maxAges.has(alias) ? { maxAge: maxAges.get(alias) } : {}),
      })),
      ...(consoleSite ? { consoleOrigins: [consoleSite.origin] } : {}),
      signInDomainPrefix,
      removalPolicy: props.tableRemovalPolicy,
      logRetention: props.logRetention,
    });
    consoleSite?.publish({
      stackName: this.stackName,
      apiUrl: operatorApi.url,
      auth: {
        signInUrl: operatorApi.signInUrl,
        clientId: operatorApi.consoleClient.userPoolClientId,
        scopes: ['openid', 'email', 'profile'],
      },
    });
    // Built after Operations: its dashboard charts the function's cold starts with the others.
    this.operations.chartColdStarts(operatorApi.handler);
    return { operatorApi, ...(consoleSite ? { consoleSite } : {}) };
  }
}
