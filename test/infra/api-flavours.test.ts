import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeploymentConfigError, validateApiSettings } from '#lib/buzzer-stack.ts';
import { AUTHORIZER_CACHE_TTL, REST_STAGE_NAME } from '#lib/constructs/api.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

let synth: SynthResult;
let resources: Resources;

beforeAll(() => {
  // The REST flavour with its own defaults, unbundled (stack.test.ts bundles the default flavour once), as
  // localstack/deploy.sh deploys it: without the operator API (an HTTP API behind Cognito, neither in the free image).
  synth = synthBuzzer({
    apiFlavour: 'rest',
    operatorApi: false,
    clientRateLimit: 20,
    clientBurstLimit: 40,
    clientDailyQuota: 5000,
  });
  resources = synth.template.toJSON().Resources as Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('client API, REST flavour (-c apiFlavour=rest)', () => {
  it('has no API Gateway v2 resource at all (the free LocalStack has none), the sandbox included', () => {
    expect(Object.values(resources).filter((r) => r.Type.startsWith('AWS::ApiGatewayV2::'))).toEqual([]);
    expect(ofType('AWS::ApiGateway::RestApi')).toHaveLength(2);
  });

  it('takes the usage plan key from the authorizer', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Description: Match.stringLikeRegexp('accept orders now'),
      ApiKeySourceType: 'AUTHORIZER',
    });
  });

  it('authorizes with the same function as a REQUEST authorizer on the Authorization header, cached 60 s', () => {
    const authorizers = ofType('AWS::ApiGateway::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.[1].Properties).toMatchObject({
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: AUTHORIZER_CACHE_TTL.toSeconds(),
    });
    expect(JSON.stringify(authorizers[0]?.[1].Properties.AuthorizerUri)).toContain('ApiAuthorizer');
  });

  it('puts every client route behind the authorizer with an API key required, as a Lambda proxy', () => {
    const all = ofType('AWS::ApiGateway::Method').filter(([id]) => id.startsWith('ApiRestApi'));
    const methods = all.filter(([id]) => !id.startsWith('ApiRestApiopenapijson'));
    const routes = methods.map(([, m]) => m.Properties.HttpMethod).sort();
    expect(routes).toEqual(['DELETE', 'GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'POST']);
    // The one exception: the OpenAPI document, which tools read before holding a key.
    expect(all.filter(([id]) => id.startsWith('ApiRestApiopenapijson')).map(([, m]) => m.Properties)).toEqual(
      [expect.objectContaining({ HttpMethod: 'GET', AuthorizationType: 'NONE', ApiKeyRequired: false })],
    );
    for (const [id, method] of methods) {
      expect(method.Properties, id).toMatchObject({
        AuthorizationType: 'CUSTOM',
        ApiKeyRequired: true,
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
    }
  });

  it('meters each client with a standard usage plan: the rate, burst and daily quota settings, on the stage', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 20, BurstLimit: 40 },
      Quota: { Limit: 5000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    synth.template.hasOutput('ClientUsagePlans', { Value: Match.anyValue() });
    synth.template.hasOutput('ApiFlavour', { Value: 'rest' });
    const authorizer = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ApiAuthorizer'));
    expect(authorizer?.[1].Properties.Environment).toMatchObject({
      Variables: { CLIENT_RATE_LIMIT: '20', CLIENT_BURST_LIMIT: '40' },
    });
  });

  it("answers the gateway's throttling with 429, a static Retry-After and the API's error format", () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" },
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"rate_limited"') },
    });
    synth.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'QUOTA_EXCEEDED',
      StatusCode: '429',
    });
  });

  it('logs access and errors (never bodies) on the stage, and keeps the ApiUrl output on the stage URL', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: REST_STAGE_NAME,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false })],
    });
    expect(JSON.stringify(synth.template.toJSON().Outputs.ApiUrl.Value)).toContain(
      `"/",{"Ref":"ApiRestApiDeploymentStage`,
    );
  });

  it('lets the sandbox routes be called only with SigV4 (AWS_IAM), and grants on the REST stage', () => {
    const sandbox = ofType('AWS::ApiGateway::Method').filter(([id]) => id.startsWith('SandboxRestApi'));
    expect(sandbox.length).toBeGreaterThan(0);
    for (const [, method] of sandbox) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    expect(JSON.stringify(resources)).toContain('/sandbox/POST/v1/charges');
  });

  it('has no unacknowledged cdk-nag findings, each acknowledged one with a written reason', () => {
    expect(
      synth.nag.violations.map((v) => `${v.ruleName} @ ${v.violatingConstructs[0]?.constructPath}`),
    ).toEqual([]);
    for (const v of synth.nag.suppressedViolations) expect(v.reason.length, v.ruleName).toBeGreaterThan(30);
  });
});

describe('client API settings', () => {
  it.each([
    [{ apiFlavour: 'graphql' }, /apiFlavour must be "http".*or "rest"/],
    [{ clientRateLimit: 0 }, /-c clientRateLimit must be requests a second from 0.01/],
    [{ clientRateLimit: 0.001 }, /-c clientRateLimit/],
    [{ clientRateLimit: Number.NaN }, /-c clientRateLimit/],
    [{ clientBurstLimit: 2.5 }, /-c clientBurstLimit must be a whole number/],
    [{ clientBurstLimit: 0 }, /-c clientBurstLimit/],
    [{ clientDailyQuota: -1 }, /-c clientDailyQuota must be a whole number/],
  ])('refuses %j with a message naming the key', (props, message) => {
    expect(() => validateApiSettings(props)).toThrow(DeploymentConfigError);
    expect(() => validateApiSettings(props)).toThrow(message);
  });

  it('defaults to the HTTP flavour and accepts fractional rates', () => {
    expect(validateApiSettings({})).toEqual({ flavour: 'http' });
    expect(validateApiSettings({ apiFlavour: 'rest', clientRateLimit: 0.5, clientBurstLimit: 2 })).toEqual({
      flavour: 'rest',
      rateLimit: 0.5,
      burstLimit: 2,
    });
  });
});
