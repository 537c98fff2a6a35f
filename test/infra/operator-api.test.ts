/**
 * The operator API and the console's static site (lib/constructs/operator-api.ts, console-site.ts): every route of
 * the contract behind the operators' user pool, nothing open, the function allowed only what the routes use, the site
 * private behind CloudFront with its config.json written at deploy time.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_ROUTES } from '#contracts/operator-api.ts';
import { DeploymentConfigError } from '#lib/buzzer-stack.ts';
import { ConsoleSite } from '#lib/constructs/console-site.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';
import { actionsOf, deployedFunctions, resourcesOf, type Statement } from './table-policy.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Resources = Record<string, Resource>;

let synth: SynthResult;
let resources: Resources;
let apiId: string;

beforeAll(() => {
  synth = synthBuzzer();
  resources = (synth.template.toJSON() as { Resources: Resources }).Resources;
  apiId = synth.stack.getLogicalId(operatorApi().httpApi.node.defaultChild as never);
});

const operatorApi = () => {
  if (!synth.stack.operatorApi) throw new Error('the default stack has no operator API');
  return synth.stack.operatorApi;
};
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const onOperatorApi = ([, r]: [string, Resource]) => (r.Properties.ApiId as { Ref?: string })?.Ref === apiId;

describe('operator API routes', () => {
  it('has exactly the routes of the contract, each behind the user pool JWT authorizer', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').filter(onOperatorApi);
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(
      OPERATOR_ROUTES.map((r) => `${r.method} ${r.path}`).sort(),
    );
    const [authorizerId, authorizer] = ofType('AWS::ApiGatewayV2::Authorizer').filter(onOperatorApi)[0] ?? [];
    expect(authorizer?.Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
    });
    const jwt = authorizer?.Properties.JwtConfiguration as { Audience: unknown[]; Issuer: unknown };
    const clientId = synth.stack.getLogicalId(operatorApi().consoleClient.node.defaultChild as never);
    const poolId = synth.stack.getLogicalId(operatorApi().userPool.node.defaultChild as never);
    expect(jwt.Audience).toEqual([{ Ref: clientId }]);
    expect(JSON.stringify(jwt.Issuer)).toContain(poolId);
    for (const [id, route] of routes) {
      expect(route.Properties.AuthorizationType, id).toBe('JWT');
      expect(route.Properties.AuthorizerId, id).toEqual({ Ref: authorizerId });
    }
  });

  it('leaves no route of any API open but the public OpenAPI document', () => {
    const open = ofType('AWS::ApiGatewayV2::Route').filter(
      ([, r]) => (r.Properties.AuthorizationType ?? 'NONE') === 'NONE',
    );
    expect(open.map(([, r]) => r.Properties.RouteKey)).toEqual(['GET /openapi.json']);
    expect(
      ofType('AWS::ApiGatewayV2::Route')
        .filter(onOperatorApi)
        .filter(([, r]) => r.Properties.RouteKey === '$default'),
    ).toEqual([]);
  });

  it("answers browsers of the console's origin only (CORS), with the token header", () => {
    const api = resources[apiId] as Resource;
    const cors = api.Properties.CorsConfiguration as Record<string, unknown>;
    const distribution = synth.stack.getLogicalId(
      synth.stack.consoleSite?.distribution.node.defaultChild as never,
    );
    expect(JSON.stringify(cors.AllowOrigins)).toContain(`${distribution}`);
    expect(cors.AllowOrigins).toHaveLength(1);
    expect(cors.AllowHeaders).toEqual(['authorization', 'content-type']);
    expect(cors.AllowCredentials).toBeUndefined();
  });
});

describe('the operators user pool', () => {
  it('takes no self sign-up, requires a TOTP second factor and returns sign-ins to the console', () => {
    synth.template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
    });
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'operators' });
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      CallbackURLs: [Match.objectLike({ 'Fn::Join': Match.anyValue() })],
    });
  });
});

describe("the operator API function's permissions", () => {
  let statements: Statement[];
  beforeAll(() => {
    const fn = deployedFunctions(synth).find((f) => f.path === 'OperatorApi/Handler');
    if (!fn) throw new Error('no operator API function');
    statements = fn.statements;
  });
  const resourcesFor = (action: string) =>
    statements.filter((s) => actionsOf(s).includes(action)).flatMap(resourcesOf);

  it('acts on the DLQs and their work queues only, and moves messages only out of redrivable DLQs', () => {
    const queueIds = new Set(
      synth.stack.operations.deadLetterQueues.flatMap((q) => [
        `${synth.stack.getLogicalId(q.deadLetterQueue.node.defaultChild as never)}.Arn`,
      ]),
    );
    const sources = synth.stack.operations.deadLetterQueues.flatMap((q) =>
      q.source ? [`${synth.stack.getLogicalId(q.source.node.defaultChild as never)}.Arn`] : [],
    );
    expect(new Set(resourcesFor('sqs:ReceiveMessage'))).toEqual(queueIds);
    expect(resourcesFor('sqs:SendMessage').sort()).toEqual([...sources].sort());
    const redrivable = synth.stack.operations.deadLetterQueues
      .filter((q) => q.source)
      .map((q) => `${synth.stack.getLogicalId(q.deadLetterQueue.node.defaultChild as never)}.Arn`);
    expect(resourcesFor('sqs:StartMessageMoveTask').sort()).toEqual(redrivable.sort());
    expect(statements.flatMap(actionsOf)).not.toContain('sqs:PurgeQueue');
  });

  it('starts, lists and redrives executions of the saga and the settlement export only', () => {
    const machines = [synth.stack.saga.stateMachine, synth.stack.settlement.stateMachine].map((m) =>
      synth.stack.getLogicalId(m.node.defaultChild as never),
    );
    expect(resourcesFor('states:StartExecution').sort()).toEqual(machines.sort());
    const redrive = resourcesFor('states:RedriveExecution');
    expect(redrive).toHaveLength(2);
    for (const [i, machine] of machines.entries()) expect(redrive.join(' '), String(i)).toContain(machine);
  });

  it("reads the table's stream for the relay replay (an iterator and records of a given-up batch), and only that stream", () => {
    const table = synth.stack.getLogicalId(synth.stack.data.table.node.defaultChild as never);
    for (const action of ['dynamodb:GetShardIterator', 'dynamodb:GetRecords'])
      expect(resourcesFor(action), action).toEqual([`${table}.StreamArn`]);
    // The batch names its shard: nothing to describe or list.
    for (const action of ['dynamodb:DescribeStream', 'dynamodb:ListStreams'])
      expect(resourcesFor(action), action).toEqual([]);
  });

  it('names a resource in every statement but the tracing one', () => {
    for (const s of statements) {
      if (actionsOf(s).every((a) => a.startsWith('xray:'))) continue;
      expect(resourcesOf(s), actionsOf(s).join(',')).not.toContain('*');
    }
  });
});

describe('the console static site', () => {
  it('keeps its files private, readable by its distribution only (origin access control)', () => {
    const files = synth.stack.getLogicalId(synth.stack.consoleSite?.bucket.node.defaultChild as never);
    expect(resources[files]?.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    synth.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    const policy = ofType('AWS::S3::BucketPolicy').find(
      ([, p]) => (p.Properties.Bucket as { Ref?: string }).Ref === files,
    )?.[1];
    if (!policy) throw new Error('the files bucket has no policy');
    const reads = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter((s) =>
      actionsOf(s).includes('s3:GetObject'),
    ) as Array<Statement & { Principal: unknown }>;
    expect(reads).toHaveLength(1);
    expect(reads[0]?.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(JSON.stringify(reads[0]?.Condition)).toContain('AWS:SourceArn');
  });

  it('publishes config.json with the operator API URL and the sign-in, resolved at deploy time', () => {
    const deployments = ofType('Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    const props = deployments[0]?.[1].Properties as { SourceMarkers: unknown[]; SourceObjectKeys: unknown[] };
    const markers = JSON.stringify(props.SourceMarkers);
    expect(markers).toContain(apiId);
    expect(markers).toContain(
      synth.stack.getLogicalId(operatorApi().consoleClient.node.defaultChild as never),
    );
    expect(props.SourceObjectKeys).toHaveLength(2);
  });

  it("serves the page with a CSP that lets it call this region's API and this stack's sign-in only", () => {
    const policies = ofType('AWS::CloudFront::ResponseHeadersPolicy');
    expect(policies).toHaveLength(1);
    const csp = JSON.stringify(policies[0]?.[1].Properties);
    // The domain prefix `<stack name>-ops-<account>`, the account a pseudo parameter: no other pool's sign-in.
    expect(csp).toMatch(
      /connect-src 'self' https:\/\/\*\.execute-api\.[^ ]+ https:\/\/[a-z0-9-]+-ops-"[^*]*\.auth\./,
    );
    expect(csp).not.toContain('https://*.auth.');
    synth.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: {
          ContentSecurityPolicy: {
            ContentSecurityPolicy: Match.objectLike({
              'Fn::Join': Match.arrayWith([
                Match.arrayWith([Match.stringLikeRegexp("frame-ancestors 'none'")]),
              ]),
            }),
          },
        },
      },
    });
  });

  it('is left out with the operator API (-c operatorApi=false, the LocalStack deploy): no user pool, site or HTTP API of its own', () => {
    const without = synthBuzzer({ operatorApi: false });
    const types = Object.values((without.template.toJSON() as { Resources: Resources }).Resources).map(
      (r) => r.Type,
    );
    for (const type of [
      'AWS::Cognito::UserPool',
      'AWS::CloudFront::Distribution',
      'Custom::CDKBucketDeployment',
    ])
      expect(types, type).not.toContain(type);
    expect(types.filter((t) => t === 'AWS::ApiGatewayV2::Api')).toHaveLength(2);
    expect(Object.keys(without.template.toJSON().Outputs)).not.toContain('OperatorApiUrl');
  });

  it('refuses a console bundle that was never built', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => new ConsoleSite(stack, 'Console', { distDir: '/nonexistent/dist' })).toThrow(
      DeploymentConfigError,
    );
  });

  it('refuses a sign-in domain prefix Cognito would refuse, at synth', () => {
    for (const prefix of ['Buzzer', 'my-cognito-ops', '-x', 'a_b']) {
      expect(() => synthBuzzer({ operatorSignInDomain: prefix }), prefix).toThrow(/sign-in domain prefix/);
    }
  });
});
