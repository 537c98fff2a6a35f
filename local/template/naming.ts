import type { CfnResource, CfnTemplate, LocalAccount } from '../types.ts';
import {
  AttributeNotReadyError,
  TemplateError,
  UnresolvableReferenceError,
  UnsupportedAttributeError,
} from './errors.ts';
import { stableLowerId, stableMixedId, stableUpperId, stableUuid } from './ids.ts';
import { type AttributeProvider, own, type ResolverOptions, TemplateResolver } from './resolve.ts';

/**
 * The local answer to "what would CloudFormation have called this?": physical names, ARNs and URLs for
 * every resource, following the `Ref` / `Fn::GetAtt` return values of the CloudFormation resource
 * reference, with local endpoints where AWS would put a regional one.
 */

/** Base URLs (e.g. `http://127.0.0.1:4566`) of the local engines that own URL-shaped identifiers. */
export interface LocalEndpoints {
  dynamodb: string;
  sqs: string;
  gateway: string;
  /** Base URL under which the local gateway serves the HTTP API with this logical id. */
  httpApi(logicalId: string): string;
}

interface NamingContext {
  logicalId: string;
  resource: CfnResource;
  account: LocalAccount;
  endpoints: LocalEndpoints;
  /** Physical name: the explicit name property, else `<stackName>-<logicalId>`. */
  name(): string;
  /** A property of this resource with intrinsics resolved (`undefined` when absent). */
  prop(property: string): unknown;
  arn(service: string, resource: string, options?: { global?: boolean }): string;
}

type AttributeGetter = (ctx: NamingContext) => unknown;

interface TypeNaming {
  /** Property that holds an explicit physical name (e.g. `TableName`). */
  nameProperty?: string;
  /** Suffix a generated name needs, e.g. `.fifo` for FIFO queues. */
  generatedSuffix?(ctx: NamingContext): string;
  /** A generated name in the type's own alphabet (S3 bucket names are lower case). @default as generated */
  generatedCase?: 'lower';
  ref(ctx: NamingContext): string;
  attributes: Record<string, AttributeGetter>;
  /** Attributes only the engine learns when it creates the resource; they come from `setAttribute`. */
  engineAttributes?: Record<string, (ctx: NamingContext) => string>;
}

function truthy(value: unknown): boolean {
  return value === true || value === 'true';
}

function stringProp(ctx: NamingContext, property: string, fallback: string): string {
  const value = ctx.prop(property);
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/** Last segment of a name-or-ARN property such as `EventBusName` (`arn:…:event-bus/x` → `x`). */
function nameFromNameOrArn(value: string): string {
  return value.startsWith('arn:') ? (value.split('/').pop() ?? value) : value;
}

function ruleBus(ctx: NamingContext): string {
  return nameFromNameOrArn(stringProp(ctx, 'EventBusName', 'default'));
}

function iamPath(ctx: NamingContext): string {
  return stringProp(ctx, 'Path', '/');
}

/** A short id unique within the stack, shaped like the ids API Gateway assigns to child resources. */
function childId(ctx: NamingContext, length = 7): string {
  return stableLowerId(`${ctx.account.stackName}/${ctx.logicalId}`, length);
}

function apiId(logicalId: string): string {
  return stableLowerId(logicalId, 10);
}

const returnsName = (ctx: NamingContext): string => ctx.name();

function userPoolId(ctx: NamingContext): string {
  return `${ctx.account.region}_${stableMixedId(`${ctx.account.stackName}/${ctx.logicalId}`, 9)}`;
}

function distributionId(ctx: NamingContext): string {
  return `E${stableUpperId(`${ctx.account.stackName}/${ctx.logicalId}`, 13)}`;
}

/**
 * One row per resource type. `Ref` and attribute semantics are those of the CloudFormation resource
 * reference ("Return values" of each type); ARN formats follow each service's documentation.
 */
const NAMING: Record<string, TypeNaming> = {
  'AWS::DynamoDB::Table': {
    nameProperty: 'TableName',
    ref: returnsName,
    attributes: { Arn: (ctx) => ctx.arn('dynamodb', `table/${ctx.name()}`) },
    engineAttributes: {
      StreamArn: (ctx) =>
        ctx.prop('StreamSpecification') === undefined
          ? `table "${ctx.name()}" has no StreamSpecification, so it has no stream`
          : `DynamoDB Local assigns the stream ARN when it creates table "${ctx.name()}"`,
    },
  },
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    generatedSuffix: (ctx) => (truthy(ctx.prop('FifoQueue')) ? '.fifo' : ''),
    ref: (ctx) => queueUrl(ctx),
    attributes: {
      Arn: (ctx) => ctx.arn('sqs', ctx.name()),
      QueueName: returnsName,
      QueueUrl: (ctx) => queueUrl(ctx),
    },
  },
  'AWS::SQS::QueuePolicy': {
    ref: (ctx) => childId(ctx, 12),
    attributes: { Id: (ctx) => childId(ctx, 12) },
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    ref: returnsName,
    attributes: { Arn: (ctx) => ctx.arn('lambda', `function:${ctx.name()}`) },
  },
  'AWS::Lambda::EventSourceMapping': {
    ref: (ctx) => mappingUuid(ctx),
    attributes: {
      Id: (ctx) => mappingUuid(ctx),
      EventSourceMappingArn: (ctx) => ctx.arn('lambda', `event-source-mapping:${mappingUuid(ctx)}`),
    },
  },
  'AWS::Events::EventBus': {
    nameProperty: 'Name',
    ref: returnsName,
    attributes: {
      Arn: (ctx) => ctx.arn('events', `event-bus/${ctx.name()}`),
      Name: returnsName,
    },
  },
  'AWS::Events::Rule': {
    nameProperty: 'Name',
    // A rule on a custom bus is referenced as "bus|rule" (rules are unique per bus, not per account).
    ref: (ctx) => (ruleBus(ctx) === 'default' ? ctx.name() : `${ruleBus(ctx)}|${ctx.name()}`),
    attributes: {
      Arn: (ctx) =>
        ctx.arn(
          'events',
          ruleBus(ctx) === 'default' ? `rule/${ctx.name()}` : `rule/${ruleBus(ctx)}/${ctx.name()}`,
        ),
    },
  },
  'AWS::StepFunctions::StateMachine': {
    nameProperty: 'StateMachineName',
    ref: (ctx) => ctx.arn('states', `stateMachine:${ctx.name()}`),
    attributes: {
      Arn: (ctx) => ctx.arn('states', `stateMachine:${ctx.name()}`),
      Name: returnsName,
    },
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    ref: returnsName,
    attributes: {
      Arn: (ctx) => ctx.arn('iam', `role${iamPath(ctx)}${ctx.name()}`, { global: true }),
      RoleId: (ctx) => `AROA${stableUpperId(`${ctx.account.stackName}/${ctx.logicalId}`, 17)}`,
    },
  },
  'AWS::IAM::Policy': {
    ref: (ctx) => childId(ctx, 12),
    attributes: { Id: (ctx) => childId(ctx, 12) },
  },
  'AWS::IAM::ManagedPolicy': {
    nameProperty: 'ManagedPolicyName',
    ref: (ctx) => ctx.arn('iam', `policy${iamPath(ctx)}${ctx.name()}`, { global: true }),
    attributes: {
      PolicyArn: (ctx) => ctx.arn('iam', `policy${iamPath(ctx)}${ctx.name()}`, { global: true }),
      PolicyId: (ctx) => `ANPA${stableUpperId(`${ctx.account.stackName}/${ctx.logicalId}`, 17)}`,
    },
  },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    ref: returnsName,
    attributes: { Arn: (ctx) => ctx.arn('logs', `log-group:${ctx.name()}:*`) },
  },
  'AWS::ApiGatewayV2::Api': {
    ref: (ctx) => apiId(ctx.logicalId),
    attributes: {
      ApiId: (ctx) => apiId(ctx.logicalId),
      ApiEndpoint: (ctx) => ctx.endpoints.httpApi(ctx.logicalId).replace(/\/+$/, ''),
      ExecuteApiArn: (ctx) => ctx.arn('execute-api', apiId(ctx.logicalId)),
    },
  },
  'AWS::ApiGatewayV2::Stage': {
    nameProperty: 'StageName',
    ref: returnsName,
    attributes: {},
  },
  'AWS::ApiGatewayV2::Route': {
    ref: (ctx) => childId(ctx),
    attributes: { RouteId: (ctx) => childId(ctx) },
  },
  'AWS::ApiGatewayV2::Integration': {
    ref: (ctx) => childId(ctx),
    attributes: { IntegrationId: (ctx) => childId(ctx) },
  },
  'AWS::ApiGatewayV2::Authorizer': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { AuthorizerId: (ctx) => childId(ctx, 6) },
  },
  'AWS::ApiGatewayV2::Deployment': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { DeploymentId: (ctx) => childId(ctx, 6) },
  },
  'AWS::ApiGateway::RestApi': {
    ref: (ctx) => apiId(ctx.logicalId),
    attributes: {
      RestApiId: (ctx) => apiId(ctx.logicalId),
      RootResourceId: (ctx) => stableLowerId(`${ctx.account.stackName}/${ctx.logicalId}/root`, 10),
    },
  },
  'AWS::ApiGateway::Resource': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { ResourceId: (ctx) => childId(ctx, 6) },
  },
  'AWS::ApiGateway::Method': { ref: (ctx) => childId(ctx), attributes: {} },
  'AWS::ApiGateway::Deployment': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { DeploymentId: (ctx) => childId(ctx, 6) },
  },
  // Ref of a stage is its name, which is how usage plans and CDK's `RestApi.url` name it.
  'AWS::ApiGateway::Stage': { nameProperty: 'StageName', ref: returnsName, attributes: {} },
  'AWS::ApiGateway::Authorizer': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { AuthorizerId: (ctx) => childId(ctx, 6) },
  },
  'AWS::ApiGateway::GatewayResponse': { ref: (ctx) => childId(ctx), attributes: {} },
  'AWS::ApiGateway::UsagePlan': {
    ref: (ctx) => childId(ctx, 6),
    attributes: { Id: (ctx) => childId(ctx, 6) },
  },
  'AWS::ApiGateway::ApiKey': {
    ref: (ctx) => childId(ctx, 10),
    attributes: { APIKeyId: (ctx) => childId(ctx, 10) },
  },
  'AWS::ApiGateway::UsagePlanKey': {
    ref: (ctx) => childId(ctx, 10),
    attributes: { Id: (ctx) => childId(ctx, 10) },
  },
  'AWS::ApiGateway::Account': {
    ref: (ctx) => childId(ctx, 10),
    attributes: { Id: (ctx) => childId(ctx, 10) },
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    generatedSuffix: (ctx) => (truthy(ctx.prop('FifoTopic')) ? '.fifo' : ''),
    ref: (ctx) => ctx.arn('sns', ctx.name()),
    attributes: {
      TopicArn: (ctx) => ctx.arn('sns', ctx.name()),
      TopicName: returnsName,
    },
  },
  // The operators' user pool: not run locally (ignored.ts), but the operator API's authorizer and the stack's outputs
  // name it. Ids are shaped as Cognito's: `<region>_<9 letters>`, 26-character client ids.
  'AWS::Cognito::UserPool': {
    ref: (ctx) => userPoolId(ctx),
    attributes: {
      Arn: (ctx) => ctx.arn('cognito-idp', `userpool/${userPoolId(ctx)}`),
      ProviderName: (ctx) => `cognito-idp.${ctx.account.region}.amazonaws.com/${userPoolId(ctx)}`,
      ProviderURL: (ctx) => `https://cognito-idp.${ctx.account.region}.amazonaws.com/${userPoolId(ctx)}`,
      UserPoolId: (ctx) => userPoolId(ctx),
    },
  },
  'AWS::Cognito::UserPoolClient': {
    ref: (ctx) => stableLowerId(`${ctx.account.stackName}/${ctx.logicalId}`, 26),
    attributes: {
      ClientId: (ctx) => stableLowerId(`${ctx.account.stackName}/${ctx.logicalId}`, 26),
      Name: (ctx) => stringProp(ctx, 'ClientName', ctx.logicalId),
    },
  },
  'AWS::Cognito::UserPoolDomain': {
    ref: (ctx) => stringProp(ctx, 'Domain', childId(ctx, 10)),
    attributes: { CloudFrontDistribution: (ctx) => `${childId(ctx, 14)}.cloudfront.net` },
  },
  'AWS::Cognito::UserPoolGroup': {
    ref: (ctx) => stringProp(ctx, 'GroupName', ctx.logicalId),
    attributes: {},
  },
  // The console's static site: not run locally (npm start serves the console), named for the outputs and the
  // operator API's CORS origin.
  'AWS::CloudFront::Distribution': {
    ref: (ctx) => distributionId(ctx),
    attributes: {
      Id: (ctx) => distributionId(ctx),
      DomainName: (ctx) => `${distributionId(ctx).toLowerCase()}.cloudfront.net`,
    },
  },
  'AWS::CloudFront::OriginAccessControl': {
    ref: (ctx) => stableUpperId(`${ctx.account.stackName}/${ctx.logicalId}`, 14),
    attributes: { Id: (ctx) => stableUpperId(`${ctx.account.stackName}/${ctx.logicalId}`, 14) },
  },
  'AWS::CloudFront::ResponseHeadersPolicy': {
    ref: (ctx) => stableUuid(`${ctx.account.stackName}/${ctx.logicalId}`),
    attributes: { Id: (ctx) => stableUuid(`${ctx.account.stackName}/${ctx.logicalId}`) },
  },
  'AWS::Lambda::LayerVersion': {
    ref: (ctx) => ctx.arn('lambda', `layer:${stringProp(ctx, 'LayerName', ctx.name())}:1`),
    attributes: {},
  },
  'Custom::CDKBucketDeployment': {
    ref: (ctx) => childId(ctx, 12),
    attributes: {},
  },
  'AWS::SNS::Subscription': {
    ref: (ctx) => subscriptionArn(ctx),
    attributes: { Arn: (ctx) => subscriptionArn(ctx) },
  },
  'AWS::Scheduler::Schedule': {
    nameProperty: 'Name',
    ref: returnsName,
    attributes: {
      Arn: (ctx) => ctx.arn('scheduler', `schedule/${stringProp(ctx, 'GroupName', 'default')}/${ctx.name()}`),
    },
  },
  'AWS::Scheduler::ScheduleGroup': {
    nameProperty: 'Name',
    ref: returnsName,
    attributes: { Arn: (ctx) => ctx.arn('scheduler', `schedule-group/${ctx.name()}`) },
  },
  'AWS::CloudWatch::Alarm': {
    nameProperty: 'AlarmName',
    ref: returnsName,
    attributes: { Arn: (ctx) => ctx.arn('cloudwatch', `alarm:${ctx.name()}`) },
  },
  'AWS::CloudWatch::Dashboard': {
    nameProperty: 'DashboardName',
    ref: returnsName,
    attributes: {},
  },
  'AWS::S3::Bucket': {
    nameProperty: 'BucketName',
    generatedCase: 'lower',
    ref: returnsName,
    attributes: {
      // Bucket ARNs carry neither region nor account.
      Arn: (ctx) => `arn:aws:s3:::${ctx.name()}`,
      DomainName: (ctx) => `${ctx.name()}.s3.amazonaws.com`,
      RegionalDomainName: (ctx) => `${ctx.name()}.s3.${ctx.account.region}.amazonaws.com`,
    },
  },
  'AWS::S3::BucketPolicy': {
    ref: (ctx) => childId(ctx, 12),
    attributes: {},
  },
  'AWS::SecretsManager::Secret': {
    nameProperty: 'Name',
    ref: (ctx) => secretArn(ctx),
    attributes: { Id: (ctx) => secretArn(ctx) },
  },
  'AWS::KMS::Key': {
    ref: (ctx) => keyId(ctx),
    attributes: {
      Arn: (ctx) => ctx.arn('kms', `key/${keyId(ctx)}`),
      KeyId: (ctx) => keyId(ctx),
    },
  },
  'AWS::KMS::Alias': {
    nameProperty: 'AliasName',
    ref: returnsName,
    attributes: {},
  },
  'AWS::SSM::Parameter': {
    nameProperty: 'Name',
    ref: returnsName,
    attributes: {
      Arn: (ctx) => ctx.arn('ssm', `parameter/${ctx.name().replace(/^\//, '')}`),
      Type: (ctx) => ctx.prop('Type'),
      Value: (ctx) => ctx.prop('Value'),
    },
  },
};

function queueUrl(ctx: NamingContext): string {
  return `${ctx.endpoints.sqs.replace(/\/+$/, '')}/${ctx.account.accountId}/${ctx.name()}`;
}

function mappingUuid(ctx: NamingContext): string {
  return stableUuid(`${ctx.account.stackName}/${ctx.logicalId}`);
}

function keyId(ctx: NamingContext): string {
  return stableUuid(`${ctx.account.stackName}/${ctx.logicalId}/kms`);
}

function secretArn(ctx: NamingContext): string {
  // Secrets Manager appends six random characters so a re-created secret gets a new ARN.
  return ctx.arn('secretsmanager', `secret:${ctx.name()}-${stableMixedId(ctx.logicalId, 6)}`);
}

function subscriptionArn(ctx: NamingContext): string {
  const topicArn = ctx.prop('TopicArn');
  const topic = typeof topicArn === 'string' ? topicArn : ctx.arn('sns', 'unknown-topic');
  return `${topic}:${stableUuid(`${ctx.account.stackName}/${ctx.logicalId}`)}`;
}

/** APIs whose execute-api URLs the local gateway serves: HTTP APIs and REST APIs. */
const API_TYPES = new Set(['AWS::ApiGatewayV2::Api', 'AWS::ApiGateway::RestApi']);

/** Resource types the local naming can answer `Ref` for (the README and the runtime list them). */
export const NAMED_RESOURCE_TYPES: readonly string[] = Object.keys(NAMING);

/**
 * Rewrites the AWS endpoint URLs CDK assembles with `Fn::Join` (for instance `HttpApi.url`,
 * `https://<apiId>.execute-api.<region>.amazonaws.com/`) to the local gateway's URL for that API. A REST API's URL
 * keeps its stage path (`.../prod/`), which the local REST gateway serves the stage under as well.
 * `apis` maps API ids to the logical ids of the template's `AWS::ApiGatewayV2::Api` and `AWS::ApiGateway::RestApi`
 * resources; URLs of APIs outside this template are left as they are.
 */
export function localizeUrl(
  value: string,
  endpoints: LocalEndpoints,
  apis: ReadonlyMap<string, string>,
): string {
  return value.replace(
    /https:\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/g,
    (match, id: string) => {
      const logicalId = apis.get(id);
      return logicalId === undefined ? match : endpoints.httpApi(logicalId).replace(/\/+$/, '');
    },
  );
}

/** The default {@link AttributeProvider}: local physical names, ARNs and URLs for a template. */
export class LocalNames implements AttributeProvider {
  private readonly template: CfnTemplate;
  private readonly account: LocalAccount;
  private readonly endpoints: LocalEndpoints;
  /** Resolves explicit name properties, which may themselves use intrinsics (`Fn::Join` with the stack name). */
  private readonly resolver: TemplateResolver;
  private readonly engineValues = new Map<string, Map<string, unknown>>();
  private readonly names = new Map<string, string>();
  private readonly namesInProgress = new Set<string>();
  private readonly apiIdToLogicalId: ReadonlyMap<string, string>;

  constructor(
    template: CfnTemplate,
    account: LocalAccount,
    endpoints: LocalEndpoints,
    options: ResolverOptions = {},
  ) {
    this.template = template;
    this.account = account;
    this.endpoints = endpoints;
    this.resolver = new TemplateResolver(template, account, this, options);
    this.apiIdToLogicalId = new Map(
      Object.entries(template.Resources)
        .filter(([, resource]) => API_TYPES.has(resource.Type))
        .map(([logicalId]) => [apiId(logicalId), logicalId]),
    );
  }

  ref(logicalId: string, resource: CfnResource): string {
    return this.typeNaming(logicalId, resource).ref(this.context(logicalId, resource));
  }

  getAtt(logicalId: string, resource: CfnResource, attribute: string): unknown {
    const naming = this.typeNaming(logicalId, resource);
    const known = this.engineValues.get(logicalId);
    if (known?.has(attribute)) return known.get(attribute);
    const ctx = this.context(logicalId, resource);
    const engineOnly = own(naming.engineAttributes, attribute);
    if (engineOnly) {
      throw new AttributeNotReadyError(
        `Fn::GetAtt ${logicalId}.${attribute} (${resource.Type}) is not known yet: ${engineOnly(ctx)}`,
      );
    }
    const getter = own(naming.attributes, attribute);
    if (!getter) {
      const available = [...Object.keys(naming.attributes), ...Object.keys(naming.engineAttributes ?? {})];
      throw new UnsupportedAttributeError(
        `${resource.Type} has no attribute "${attribute}" locally (resource ${logicalId}; known: ${available.join(', ') || 'none'})`,
      );
    }
    return getter(ctx);
  }

  /** Records an attribute only an engine learns, such as the stream ARN DynamoDB Local assigns. */
  setAttribute(logicalId: string, attribute: string, value: unknown): void {
    const resource = own(this.template.Resources, logicalId);
    if (!resource) throw new UnresolvableReferenceError(`the template has no resource "${logicalId}"`);
    let values = this.engineValues.get(logicalId);
    if (!values) {
      values = new Map();
      this.engineValues.set(logicalId, values);
    }
    values.set(attribute, value);
  }

  /** The name engines create the resource under: the explicit name property, else `<stackName>-<logicalId>`. */
  physicalName(logicalId: string): string {
    const cached = this.names.get(logicalId);
    if (cached !== undefined) return cached;
    const resource = own(this.template.Resources, logicalId);
    if (!resource) throw new UnresolvableReferenceError(`the template has no resource "${logicalId}"`);
    if (this.namesInProgress.has(logicalId)) {
      throw new UnresolvableReferenceError(`the name of ${logicalId} refers to the resource itself`);
    }
    this.namesInProgress.add(logicalId);
    try {
      const naming = own(NAMING, resource.Type);
      const ctx = this.context(logicalId, resource);
      // An explicit name can be `Fn::If [cond, name, AWS::NoValue]`, which leaves CloudFormation to generate one.
      const explicit = naming?.nameProperty ? ctx.prop(naming.nameProperty) : undefined;
      if (explicit !== undefined && typeof explicit !== 'string') {
        throw new TemplateError(
          `a physical name must be a string, got ${JSON.stringify(explicit)}`,
          `Resources.${logicalId}.Properties.${naming?.nameProperty}`,
        );
      }
      const generated = `${this.account.stackName}-${logicalId}${naming?.generatedSuffix?.(ctx) ?? ''}`;
      const name = explicit ?? (naming?.generatedCase === 'lower' ? generated.toLowerCase() : generated);
      this.names.set(logicalId, name);
      return name;
    } finally {
      this.namesInProgress.delete(logicalId);
    }
  }

  /** API id → logical id of every HTTP API and REST API in the template. */
  apiIds(): ReadonlyMap<string, string> {
    return this.apiIdToLogicalId;
  }

  localize(value: string): string {
    return this.apiIdToLogicalId.size === 0
      ? value
      : localizeUrl(value, this.endpoints, this.apiIdToLogicalId);
  }

  private typeNaming(logicalId: string, resource: CfnResource): TypeNaming {
    const naming = own(NAMING, resource.Type);
    if (!naming) {
      throw new UnsupportedAttributeError(
        `no local naming for resource type ${resource.Type} (resource ${logicalId}); known types: ${NAMED_RESOURCE_TYPES.join(', ')}`,
      );
    }
    return naming;
  }

  private context(logicalId: string, resource: CfnResource): NamingContext {
    const { region, accountId } = this.account;
    return {
      logicalId,
      resource,
      account: this.account,
      endpoints: this.endpoints,
      name: () => this.physicalName(logicalId),
      prop: (property) => {
        const value = resource.Properties?.[property];
        return value === undefined
          ? undefined
          : this.resolver.resolve(value, `Resources.${logicalId}.Properties.${property}`);
      },
      // IAM is a global service: its ARNs carry no region.
      arn: (service, name, options) =>
        `arn:aws:${service}:${options?.global ? '' : region}:${accountId}:${name}`,
    };
  }
}
