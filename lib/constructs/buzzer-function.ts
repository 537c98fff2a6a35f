import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import {
  type IndexGrant,
  ITEM_ACTIONS,
  type ItemGrant,
  type TableAccess,
  tableAccessFor,
} from './table-access.ts';

/** A partition key prefix of the single table (functions/shared/table-keys.ts): capitals, then `#`. */
const KEY_PREFIX = /^[A-Z]+#$/;

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BuzzerFunctionProps {
  /** Handler file relative to `functions/`, e.g. `orders/accept-order.ts`. It must export `handler`. */
  readonly entry: string;
  /** Logical service name for Powertools (`POWERTOOLS_SERVICE_NAME`). */
  readonly serviceName: string;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** Extra environment variables; grants that go with them are the caller's job (see the constructs using this). */
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY for log groups: logs are operational data, not records. */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default undefined (unreserved) */
  readonly reservedConcurrentExecutions?: number;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Put the AWS SDK into the bundle instead of using the one the Lambda runtime provides.
   * @default false: smaller bundles and faster cold starts; the runtime's SDK v3 is kept current by AWS.
   */
  readonly bundleAwsSdk?: boolean;
  /**
   * Modules left out of the bundle because the code loads them optionally (in a try/catch) and they are native
   * add-ons esbuild cannot bundle: ssh2's `cpu-features` and `*.node` crypto binding, without which it uses Node's
   * own crypto. @default none
   */
  readonly optionalNativeModules?: readonly string[];
}

/**
 * A Node.js Lambda function with Buzzer's operational defaults: arm64, Node.js 24, an esbuild bundle that is minified
 * with source maps, an explicit log group with retention, active tracing and Powertools settings.
 */
export class BuzzerFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  /** The function's own role: it may write to its own log group and nothing else until a grant says so. */
  public readonly role: iam.Role;
  /** The handler file relative to `functions/` (its key in lib/constructs/table-access.ts). */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: BuzzerFunctionProps) {
    super(scope, id);
    if (!props.entry.endsWith('.ts')) {
      throw new Error(
        `BuzzerFunction ${id}: entry must be a .ts file under functions/, got "${props.entry}"`,
      );
    }

    this.entry = props.entry;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    // An explicit role instead of AWSLambdaBasicExecutionRole, whose logs:* on every log group is broader than needed.
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      role: this.role,
      entry: path.join(projectRoot, 'functions', props.entry),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        [ENV.POWERTOOLS_SERVICE_NAME]: props.serviceName,
        [ENV.POWERTOOLS_LOG_LEVEL]: props.logLevel ?? 'INFO',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node24',
        format: OutputFormat.CJS,
        bundleAwsSDK: props.bundleAwsSdk ?? false,
        ...(props.optionalNativeModules
          ? {
              esbuildArgs: Object.fromEntries(
                props.optionalNativeModules.map((name) => [`--external:${name}`, true]),
              ),
            }
          : {}),
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'xray:PutTraceSegments/PutTelemetryRecords (active tracing) and dynamodb:ListStreams (stream consumers) ' +
        'support no resource-level permissions; every other statement of this role names its resources.',
    });
  }

  /**
   * Allows `grant.actions` on the items whose partition key starts with one of `grant.prefixes`, and on no other item
   * (a `dynamodb:LeadingKeys` condition; see lib/constructs/table-access.ts for how IAM applies it).
   */
  public grantItems(table: dynamodb.ITable, grant: ItemGrant): void {
    if (grant.actions.length === 0)
      throw new Error(`${this.node.path}: an item grant needs at least one action`);
    for (const action of grant.actions) {
      // Checked at run time too: a Scan or a table action slipped in through a cast would not be scoped by the key.
      if (!(ITEM_ACTIONS as readonly string[]).includes(action)) {
        throw new Error(
          `${this.node.path}: ${action} cannot be scoped to items; allowed: ${ITEM_ACTIONS.join(', ')}`,
        );
      }
    }
    if (grant.prefixes.length === 0)
      throw new Error(`${this.node.path}: an item grant needs at least one prefix`);
    for (const prefix of grant.prefixes) {
      if (!KEY_PREFIX.test(prefix)) {
        throw new Error(
          `${this.node.path}: key prefix must look like ORDER# (capitals, then #), got "${prefix}"`,
        );
      }
    }
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...grant.actions],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': grant.prefixes.map((prefix) => `${prefix}*`) },
        },
      }),
    );
  }

  /**
   * Allows `dynamodb:Query` on one index of the table, for exactly these index partition key values
   * (`grant.partitions`) and for the partitions starting with `grant.partitionPrefixes`.
   */
  public grantIndexQuery(table: dynamodb.ITable, grant: IndexGrant): void {
    const partitions = grant.partitions ?? [];
    const prefixes = grant.partitionPrefixes ?? [];
    if (partitions.length === 0 && prefixes.length === 0) {
      throw new Error(`${this.node.path}: an index grant needs at least one partition`);
    }
    for (const prefix of prefixes) {
      if (!KEY_PREFIX.test(prefix)) {
        throw new Error(`${this.node.path}: index partition prefix must look like SETTLED#, got "${prefix}"`);
      }
    }
    const resources = [`${table.tableArn}/index/${grant.index}`];
    if (partitions.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources,
          conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...partitions] } },
        }),
      );
    }
    if (prefixes.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources,
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((p) => `${p}*`) } },
        }),
      );
    }
  }

  /** Grants what lib/constructs/table-access.ts declares for this function's handler, and nothing else. */
  public grantTableAccess(table: dynamodb.ITable, access: TableAccess = tableAccessFor(this.entry)): void {
    for (const grant of access.items) this.grantItems(table, grant);
    for (const grant of access.indexes ?? []) this.grantIndexQuery(table, grant);
  }

  /**
   * Allows `actions` on every item of a table, Scan included. Only for a table all of whose items the function owns
   * (the sandbox's own ledger); `reason` says why and is kept as construct metadata in the cloud assembly.
   */
  public grantWholeTable(table: dynamodb.ITable, grant: { actions: string[]; reason: string }): void {
    if (grant.reason.trim().length < 20) {
      throw new Error(`${this.node.path}: say why this function needs every item of the table`);
    }
    this.node.addMetadata('buzzer:whole-table-grant', grant.reason);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: grant.actions, resources: [table.tableArn] }),
    );
  }
}
