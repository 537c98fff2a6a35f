import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import {
  SETTLEMENT_IMPORT_PREFIXES as PREFIX,
  SETTLEMENT_IMPORT_STATES as STATES,
} from '#contracts/settlement.ts';
import { DeploymentConfigError } from '../deployment-config-error.ts';
import { BuzzerFunction } from './buzzer-function.ts';

export interface SettlementImportProps {
  readonly table: dynamodb.ITable;
  /** IANA time zone of the business dates in the files (the export's). @default 'UTC' */
  readonly timeZone?: string;
  /** Lines applied per chunk: one Lambda invocation, one state of the execution. @default 500 */
  readonly chunkLines?: number;
  /** How long processed and failed files and the reports stay in the bucket. @default Duration.days(400) */
  readonly fileRetention?: Duration;
  /** @default RemovalPolicy.RETAIN: the files are what the acquirer sent */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

type StepName = keyof typeof STATES;

/**
 * The acquirer's settlement file, inbound (docs/architecture.md, "Settlement files"): the partner drops a file into the
 * bucket's `inbox/` (on AWS an AWS Transfer Family SFTP endpoint can front the bucket; the stack needs only the
 * prefix). The bucket sends its events to EventBridge, and a rule on "Object Created" under `inbox/` starts one
 * STANDARD execution per file: claim (name and checksum, once), validate the whole file, apply it in chunks, write
 * the reconciliation report, move the file to `processed/` (or `failed/` with an error report).
 *
 * STANDARD, because `RedriveExecution` restarts a failed execution at the failed state: a chunk that failed is run
 * again from the byte offset it started at, and its lines, recorded by conditional writes keyed by the acquirer's
 * reference, are not applied a second time (docs/runbook.md#settlement-import-failed).
 */
export class SettlementImport extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly stateMachine: sfn.StateMachine;
  /** The EventBridge rule on the inbox's Object Created events. */
  public readonly rule: events.Rule;
  public readonly steps: Readonly<Record<StepName, BuzzerFunction>>;

  constructor(scope: Construct, id: string, props: SettlementImportProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const chunkLines = props.chunkLines ?? 500;
    if (!Number.isInteger(chunkLines) || chunkLines < 1 || chunkLines > 10_000) {
      throw new DeploymentConfigError('Buzzer: the settlement import needs 1-10000 lines per chunk');
    }
    const retention = props.fileRetention ?? Duration.days(400);

    this.bucket = new s3.Bucket(this, 'Inbox', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { prefix: PREFIX.processed, expiration: retention },
        { prefix: PREFIX.failed, expiration: retention },
        { prefix: PREFIX.reports, expiration: retention },
        // A claimed file stays under work/ only while it is imported; one left there failed and waits for a redrive.
        { prefix: PREFIX.work, expiration: Duration.days(30) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason:
        'The partner writes inbox/ and only the import functions touch the rest: every file has one execution whose ' +
        'history records each step; server access logs would add a second bucket to keep.',
    });

    // EventBridge notifications as the bucket's own CloudFormation property: `eventBridgeEnabled` would add CDK's
    // custom resource and its inline Lambda (a Python function outside the stack's conventions) to say the same.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    const environment = {
      [ENV.SETTLEMENT_INBOX_BUCKET]: this.bucket.bucketName,
      [ENV.SETTLEMENT_TIME_ZONE]: props.timeZone ?? 'UTC',
      [ENV.SETTLEMENT_IMPORT_CHUNK_LINES]: String(chunkLines),
    };
    const bucketArn = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    /** Object actions per prefix, ListBucket (so a missing object answers 404, not 403) and the table access. */
    const step = (
      name: string,
      entry: string,
      objects: Record<string, string[]>,
      options: { table?: boolean; timeout?: Duration; memory?: number } = {},
    ) => {
      const table = options.table ?? true;
      const fn = new BuzzerFunction(this, name, {
        entry,
        serviceName: `settlement-import-${name.toLowerCase()}`,
        timeout: options.timeout ?? Duration.minutes(5),
        memorySize: options.memory ?? 512,
        environment: table ? { ...environment, [ENV.TABLE_NAME]: props.table.tableName } : environment,
      });
      if (table) fn.grantTableAccess(props.table);
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
      );
      for (const [prefix, actions] of Object.entries(objects)) {
        fn.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions, resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
        );
        Validations.of(fn.role).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketArn}.Arn>/${prefix}*]`,
          reason: `Objects under ${prefix} only: the files and reports of the import, named by file and checksum.`,
        });
      }
      return fn;
    };
    const read = ['s3:GetObject'];
    const write = ['s3:PutObject'];
    const move = ['s3:GetObject', 's3:DeleteObject'];
    const claim = step('Claim', 'settlement/claim-file.ts', {
      [PREFIX.inbox]: move,
      [PREFIX.work]: [...read, ...write],
    });
    const validate = step(
      'Validate',
      'settlement/validate-file.ts',
      { [PREFIX.work]: read, [PREFIX.failed]: write },
      { table: false },
    );
    const reject = step('Reject', 'settlement/reject-file.ts', {
      [PREFIX.inbox]: move,
      [PREFIX.work]: move,
      [PREFIX.failed]: [...read, ...write],
    });
    const apply = step('Apply', 'settlement/apply-chunk.ts', {
      [PREFIX.work]: read,
      [PREFIX.reports]: write,
    });
    const reconcile = step('Reconcile', 'settlement/reconcile-file.ts', {
      [PREFIX.reports]: [...read, ...write],
    });
    const finish = step('Finish', 'settlement/finish-file.ts', {
      [PREFIX.work]: move,
      [PREFIX.processed]: [...read, ...write],
    });
    this.steps = { claim, validate, reject, apply, reconcile, finish };

    const invoke = (stateName: string, fn: BuzzerFunction) =>
      new tasks.LambdaInvoke(this, `${stateName}Task`, {
        stateName,
        lambdaFunction: fn.function,
        payload: sfn.TaskInput.fromJsonPathAt('$'),
        // Lambda's own service errors only; a failure of the step itself leaves the execution FAILED for a redrive.
        retryOnServiceExceptions: true,
        outputPath: '$.Payload',
      });
    const rejectTask = invoke(STATES.reject, reject).next(new sfn.Succeed(this, 'Rejected'));
    const applyTask = invoke(STATES.apply, apply);
    const definition = invoke(STATES.claim, claim).next(
      new sfn.Choice(this, 'Claimed', { comment: 'A duplicate (same name or same checksum) applies nothing' })
        .when(
          sfn.Condition.stringEquals('$.outcome', 'claimed'),
          invoke(STATES.validate, validate).next(
            new sfn.Choice(this, 'Valid', { comment: 'The whole file is checked before any line is applied' })
              .when(
                sfn.Condition.stringEquals('$.outcome', 'valid'),
                applyTask.next(
                  new sfn.Choice(this, 'MoreChunks')
                    .when(sfn.Condition.booleanEquals('$.done', false), applyTask)
                    .otherwise(
                      invoke(STATES.reconcile, reconcile)
                        .next(invoke(STATES.finish, finish))
                        .next(new sfn.Succeed(this, 'Processed')),
                    ),
                ),
              )
              .otherwise(rejectTask),
          ),
        )
        .otherwise(rejectTask),
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
    for (const fn of Object.values(this.steps)) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the step function and its versions/aliases (ARN:*), nothing else.',
      });
    }
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery actions support no resource-level scoping.',
    });

    this.rule = new events.Rule(this, 'FileArrived', {
      description: 'A settlement file dropped into the inbox starts its import',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.bucket.bucketName] },
          object: { key: [{ prefix: PREFIX.inbox }] },
        },
      },
      targets: [new eventTargets.SfnStateMachine(this.stateMachine, { retryAttempts: 8 })],
    });
  }
}
