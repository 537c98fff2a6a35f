import { Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import {
  PARTNER_NAME,
  SETTLEMENT_FORMAT_NAMES,
  type SettlementFormatName,
  type SettlementPartnerConfig,
  settlementSecretName,
} from '#contracts/settlement.ts';
import { DeploymentConfigError } from '../deployment-config-error.ts';
import { BuzzerFunction } from './buzzer-function.ts';

export interface SettlementPartner {
  /** Lower case letters, digits and `-`: it goes into file names, S3 keys and table keys. */
  readonly name: string;
  /** `csv` (RFC 4180), `kv` (`name=value` lines) or `jsonl` (JSON Lines). */
  readonly format: SettlementFormatName;
  /** Folder on the partner's SFTP server. @default '.' (the login folder) */
  readonly directory?: string;
}

export interface SettlementExportProps {
  readonly table: dynamodb.ITable;
  /** One schedule, one file a day, one SFTP secret per partner. */
  readonly partners: readonly SettlementPartner[];
  /** IANA time zone of the business day and of the schedule. @default 'UTC' */
  readonly timeZone?: string;
  /** When the schedule fires, local time; it exports the day before. @default { hour: 1, minute: 30 } */
  readonly runAt?: { readonly hour: number; readonly minute: number };
  /** Orders per page (one Query, one part file). @default DEFAULT_SETTLEMENT_PAGE_SIZE (500) */
  readonly pageSize?: number;
  /** How long the files and their parts stay in the bucket. @default Duration.days(400), as orders do */
  readonly fileRetention?: Duration;
  /** @default RemovalPolicy.RETAIN: the files are what was sent to partners */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** `acquirer:csv,accountant:jsonl:/inbox` (`-c settlementPartners=`): name, format and an optional folder. */
export function parseSettlementPartners(value: string): SettlementPartner[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name = '', format = '', ...rest] = entry.split(':');
      const directory = rest.join(':');
      return { name, format: format as SettlementFormatName, ...(directory ? { directory } : {}) };
    });
}

/** Checks the partners and the time zone; the messages name the context keys. */
export function validateSettlement(
  props: Pick<SettlementExportProps, 'partners' | 'timeZone' | 'runAt'>,
): void {
  if (props.partners.length === 0) {
    throw new DeploymentConfigError(
      'Buzzer: -c settlementPartners needs at least one partner, e.g. acquirer:csv',
    );
  }
  const seen = new Set<string>();
  for (const partner of props.partners) {
    if (!PARTNER_NAME.test(partner.name)) {
      throw new DeploymentConfigError(
        `Buzzer: settlement partner name "${partner.name}" must be lower case letters, digits and -, 32 at most`,
      );
    }
    if (seen.has(partner.name))
      throw new DeploymentConfigError(`Buzzer: settlement partner ${partner.name} twice`);
    seen.add(partner.name);
    if (!(SETTLEMENT_FORMAT_NAMES as readonly string[]).includes(partner.format)) {
      throw new DeploymentConfigError(
        `Buzzer: settlement partner ${partner.name}: format must be ${SETTLEMENT_FORMAT_NAMES.join(', ')}, got "${partner.format}"`,
      );
    }
  }
  const timeZone = props.timeZone ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new DeploymentConfigError(
      `Buzzer: -c settlementTimeZone must be an IANA time zone (e.g. Europe/Paris), got "${timeZone}"`,
    );
  }
  const { hour = 1, minute = 30 } = props.runAt ?? {};
  if (
    !Number.isInteger(hour) ||
    hour < 0 ||
    hour > 23 ||
    !Number.isInteger(minute) ||
    minute < 0 ||
    minute > 59
  ) {
    throw new DeploymentConfigError('Buzzer: the settlement schedule needs an hour 0-23 and a minute 0-59');
  }
}

/** The export's states, as the state machine names them (the CLI and the runbook name them too). */
export const SETTLEMENT_STATES = {
  plan: 'PlanExport',
  page: 'ExportPage',
  assemble: 'AssembleFile',
  deliver: 'DeliverFile',
} as const;

/**
 * The daily settlement export (docs/architecture.md, "Settlement files"): per partner, an EventBridge Scheduler
 * schedule starts a STANDARD state machine for the business date before; it pages through the day's CONFIRMED and
 * CANCELLED orders on the table's Settled index into numbered part files in S3, assembles the file with its header,
 * trailer and manifest, and delivers it by SFTP with credentials from Secrets Manager.
 *
 * STANDARD, because `RedriveExecution` restarts a failed execution at the failed state with what came before kept:
 * every step writes under keys fixed by the date, the partner and the page number, so the redriven step rewrites the
 * same bytes and the finished file is the one a run without the failure would have made. No step retries its own
 * failures beyond Lambda's service errors: a failed page, assembly or transfer stops the execution FAILED for an
 * operator to look at and redrive (docs/runbook.md#settlement-export-failed).
 */
export class SettlementExport extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly stateMachine: sfn.StateMachine;
  /** Per partner name: the secret the operator fills in with the SFTP host, user, private key and host key. */
  public readonly secrets: Readonly<Record<string, secretsmanager.Secret>>;
  public readonly schedules: readonly scheduler.Schedule[];
  public readonly steps: Readonly<Record<keyof typeof SETTLEMENT_STATES, BuzzerFunction>>;

  constructor(scope: Construct, id: string, props: SettlementExportProps) {
    super(scope, id);
    validateSettlement(props);
    const stack = Stack.of(this);
    const timeZone = props.timeZone ?? 'UTC';
    const retention = props.fileRetention ?? Duration.days(400);

    this.bucket = new s3.Bucket(this, 'Files', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A resend replaces a file: the version sent before stays readable for a while.
      versioned: true,
      lifecycleRules: [
        { prefix: 'exports/', expiration: retention, noncurrentVersionExpiration: Duration.days(30) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason:
        'Only the export functions write this bucket and nobody reads it but them and operators: the state ' +
        "machine's execution history records every write; server access logs would add a second bucket to keep.",
    });

    const partners: SettlementPartnerConfig[] = [];
    const secrets: Record<string, secretsmanager.Secret> = {};
    for (const partner of props.partners) {
      const secretName = settlementSecretName(stack.stackName, partner.name);
      const secret = new secretsmanager.Secret(this, `Partner-${partner.name}`, {
        secretName,
        description:
          `SFTP credentials of settlement partner ${partner.name}: JSON {"host","port","username","privateKey",` +
          '"hostKey"} (hostKey = the server key fingerprint SHA256:..., pinned). Fill in after the first deploy.',
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'An SFTP key pair agreed with the partner: it is rotated with the partner (they install the new public key), ' +
          'which a rotation Lambda cannot do on its own.',
      });
      secrets[partner.name] = secret;
      partners.push({
        name: partner.name,
        format: partner.format,
        secretId: secretName,
        directory: partner.directory ?? '.',
      });
    }
    this.secrets = secrets;

    const environment = {
      [ENV.SETTLEMENT_BUCKET]: this.bucket.bucketName,
      [ENV.SETTLEMENT_PARTNERS]: JSON.stringify(partners),
      [ENV.SETTLEMENT_TIME_ZONE]: timeZone,
      ...(props.pageSize === undefined ? {} : { [ENV.SETTLEMENT_PAGE_SIZE]: String(props.pageSize) }),
    };
    const step = (
      name: string,
      entry: string,
      options: { table: boolean; timeout?: Duration; memory?: number; native?: string[] },
    ) => {
      const fn = new BuzzerFunction(this, name, {
        entry,
        ...(options.native ? { optionalNativeModules: options.native } : {}),
        serviceName: `settlement-${name}`,
        timeout: options.timeout ?? Duration.seconds(30),
        memorySize: options.memory ?? 256,
        environment: options.table
          ? { ...environment, [ENV.TABLE_NAME]: props.table.tableName }
          : environment,
      });
      if (options.table) fn.grantTableAccess(props.table);
      return fn;
    };
    const plan = step('Plan', 'settlement/plan-export.ts', { table: true });
    const page = step('Page', 'settlement/export-page.ts', { table: true });
    const assemble = step('Assemble', 'settlement/assemble-file.ts', {
      table: false,
      timeout: Duration.minutes(5),
      memory: 512,
    });
    const deliver = step('Deliver', 'settlement/deliver-file.ts', {
      table: true,
      timeout: Duration.minutes(5),
      native: ['cpu-features', '*.node'],
    });
    this.steps = { plan, page, assemble, deliver };

    const exportsArn = this.bucket.arnForObjects('exports/*');
    const allow = (fn: BuzzerFunction, actions: string[]) =>
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [exportsArn] }));
    allow(page, ['s3:PutObject']);
    allow(assemble, ['s3:GetObject', 's3:PutObject']);
    allow(deliver, ['s3:GetObject']);
    // GetSecretValue only (grantRead adds DescribeSecret, which the delivery never calls).
    deliver.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: Object.values(secrets).map((secret) => secret.secretArn),
      }),
    );
    for (const fn of [page, assemble, deliver]) {
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/exports/*]`,
        reason:
          'Objects under exports/ only: the part files, settlement files and manifests the export writes.',
      });
    }

    const invoke = (name: string, fn: BuzzerFunction) =>
      new tasks.LambdaInvoke(this, `${name}Task`, {
        stateName: name,
        lambdaFunction: fn.function,
        payload: sfn.TaskInput.fromJsonPathAt('$'),
        // Lambda's own service errors only; a failure of the step itself leaves the execution FAILED for a redrive.
        retryOnServiceExceptions: true,
        outputPath: '$.Payload',
      });
    const planTask = invoke(SETTLEMENT_STATES.plan, plan);
    const pageTask = invoke(SETTLEMENT_STATES.page, page);
    const assembleTask = invoke(SETTLEMENT_STATES.assemble, assemble);
    const deliverTask = new tasks.LambdaInvoke(this, 'DeliverTask', {
      stateName: SETTLEMENT_STATES.deliver,
      lambdaFunction: deliver.function,
      payload: sfn.TaskInput.fromJsonPathAt('$'),
      retryOnServiceExceptions: true,
      resultSelector: { 'value.$': '$.Payload' },
      resultPath: '$.delivery',
    });
    const definition = planTask.next(
      new sfn.Choice(this, 'ScheduledAndDelivered', {
        comment: 'A scheduled run for a date already delivered stops here; an operator run rebuilds the file',
      })
        .when(
          sfn.Condition.and(
            sfn.Condition.booleanEquals('$.scheduled', true),
            sfn.Condition.booleanEquals('$.alreadyDelivered', true),
          ),
          new sfn.Succeed(this, 'AlreadyDelivered'),
        )
        .otherwise(
          pageTask.next(
            new sfn.Choice(this, 'MorePages')
              .when(sfn.Condition.booleanEquals('$.done', false), pageTask)
              .otherwise(assembleTask.next(deliverTask).next(new sfn.Succeed(this, 'Delivered'))),
          ),
        ),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.hours(6),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    for (const fn of [plan, page, assemble, deliver]) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the step function and its versions/aliases (ARN:*), nothing else.',
      });
    }
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery actions support no resource-level scoping.',
    });

    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
    const { hour = 1, minute = 30 } = props.runAt ?? {};
    this.schedules = props.partners.map(
      (partner) =>
        new scheduler.Schedule(this, `Daily-${partner.name}`, {
          description: `Settlement file of the day before for ${partner.name} (buzzer batch run settlement)`,
          schedule: scheduler.ScheduleExpression.cron({
            hour: String(hour),
            minute: String(minute),
            timeZone: TimeZone.of(timeZone),
          }),
          target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
            role: scheduleRole,
            input: scheduler.ScheduleTargetInput.fromObject({
              partner: partner.name,
              scheduledTime: scheduler.ContextAttribute.scheduledTime,
            }),
            retryAttempts: 3,
            maxEventAge: Duration.hours(6),
          }),
        }),
    );
  }
}
