import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuzzerStack, type BuzzerStackProps, DeploymentConfigError } from '#lib/buzzer-stack.ts';
import { type SynthResult, synthApp, synthBuzzer } from './synth.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type Statement = Record<string, unknown> & { policy: string };

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:buzzer/provider-AbCdEf';
const REAL: BuzzerStackProps = {
  paymentProviderUrl: 'https://api.payments.example',
  paymentProviderSecretArn: SECRET_ARN,
  mailTransport: 'ses',
  mailFrom: 'orders@buzzer.example',
};

const resourcesOf = (synth: SynthResult) => synth.template.toJSON().Resources as Resources;
const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);
const statementsOf = (resources: Resources): Statement[] =>
  ofType(resources, 'AWS::IAM::Policy').flatMap(([policy, resource]) =>
    (resource.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement.map(
      (statement) => ({ ...statement, policy }),
    ),
  );
const actionsOf = (statement: Statement) => [statement.Action].flat() as string[];
/** The `<METHOD>/<path>` ends of the execute-api ARNs a statement names (they are Fn::Join expressions). */
const routesOf = (statement: Statement) =>
  [...JSON.stringify(statement.Resource).matchAll(/\/\$default\/([A-Z]+\/[^"]+)"/g)].map((match) => match[1]);

function build(props: BuzzerStackProps): () => BuzzerStack {
  return () => new BuzzerStack(new App(), 'Buzzer', props);
}

describe('deployment choice (synth-time validation)', () => {
  it('refuses a stack with neither a real provider nor the sandbox flag, and says what to set', () => {
    expect(build({})).toThrow(DeploymentConfigError);
    expect(build({})).toThrow(/-c sandbox=true/);
    expect(build({})).toThrow(
      /-c paymentProviderUrl=https:.*paymentProviderSecretArn.*mailTransport=ses.*mailFrom/,
    );
  });

  it('refuses the sandbox and a real provider together', () => {
    expect(build({ ...REAL, sandbox: true })).toThrow(/exclude each other/);
  });

  it('requires https for a real provider', () => {
    expect(build({ ...REAL, paymentProviderUrl: 'http://api.payments.example' })).toThrow(
      /must be an https URL/,
    );
  });

  it('requires the secret holding the provider key, as a full Secrets Manager ARN', () => {
    expect(build({ ...REAL, paymentProviderSecretArn: undefined })).toThrow(/paymentProviderSecretArn/);
    expect(build({ ...REAL, paymentProviderSecretArn: 'my-secret' })).toThrow(/"my-secret" is not one/);
  });

  it('requires real mail (SES with a sender) with a real provider', () => {
    expect(build({ ...REAL, mailTransport: undefined })).toThrow(/mailTransport=ses/);
    expect(build({ ...REAL, mailTransport: 'sink' })).toThrow(/mail sink exists only with -c sandbox=true/);
    expect(build({ ...REAL, mailFrom: undefined })).toThrow(/mailFrom/);
  });

  it('makes a plain `cdk synth` of the app fail with that message, not a stack trace', () => {
    // Without the console's static site, whose build (on a fresh clone) would only make the test slower.
    const result = synthApp({ consoleSite: false });

    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^Buzzer: no payment provider\. .*-c sandbox=true/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('with -c sandbox=true', () => {
  let synth: SynthResult;
  let resources: Resources;

  beforeAll(() => {
    synth = synthBuzzer({ sandbox: true });
    resources = resourcesOf(synth);
  });

  const sandboxApiId = () => {
    const [id] =
      ofType(resources, 'AWS::ApiGatewayV2::Api').find(([, api]) =>
        String(api.Properties.Description).includes('sandbox'),
      ) ?? [];
    if (!id) throw new Error('no sandbox API in the template');
    return id;
  };

  it('puts every sandbox route behind IAM (AWS_IAM authorization)', () => {
    const apiId = sandboxApiId();
    const routes = ofType(resources, 'AWS::ApiGatewayV2::Route').filter(
      ([, route]) => (route.Properties.ApiId as { Ref?: string }).Ref === apiId,
    );

    expect(routes.length).toBeGreaterThan(0);
    for (const [id, route] of routes) expect(route.Properties.AuthorizationType, id).toBe('AWS_IAM');
  });

  it('lets each caller invoke only the sandbox routes it needs', () => {
    const invokers = statementsOf(resources).filter((s) => actionsOf(s).includes('execute-api:Invoke'));
    // Sorted: the order of resources in a statement means nothing (and @aws-cdk/aws-iam:minimizePolicies sorts them).
    const byPolicy = Object.fromEntries(
      invokers.map((s) => [s.policy.replace(/Role.*$/, ''), [...routesOf(s)].sort()]),
    );

    expect(invokers).toHaveLength(3);
    expect(byPolicy).toEqual({
      SagaAuthorizePayment: ['GET/v1/charges', 'POST/v1/charges', 'POST/v1/refunds'],
      SagaVoidPayment: ['GET/v1/charges', 'POST/v1/charges', 'POST/v1/refunds'],
      NotifierHandler: ['POST/v1/mail'],
    });
  });

  it('serves POST /v1/mail from a function of its own, so mail never takes the payment provider’s concurrency', () => {
    const apiId = sandboxApiId();
    const routes = ofType(resources, 'AWS::ApiGatewayV2::Route').filter(
      ([, route]) => (route.Properties.ApiId as { Ref?: string }).Ref === apiId,
    );
    const integrationOf = (key: string) => {
      const route = routes.find(([, r]) => r.Properties.RouteKey === key)?.[1];
      const target = JSON.stringify(route?.Properties.Target ?? '');
      const [integrationId] = ofType(resources, 'AWS::ApiGatewayV2::Integration').find(([id]) =>
        target.includes(id),
      ) ?? [''];
      const integration = resources[integrationId]?.Properties.IntegrationUri;
      return JSON.stringify(integration).match(/"(Sandbox[A-Za-z0-9]+)"/)?.[1];
    };
    const mail = integrationOf('POST /v1/mail');
    const rest = integrationOf('ANY /{proxy+}');

    expect(mail).toMatch(/^SandboxMailSink/);
    expect(rest).toMatch(/^SandboxProvider/);
  });

  it('tells the payment steps to sign with SigV4', () => {
    const payment = ofType(resources, 'AWS::Lambda::Function')
      .map(([, fn]) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables)
      .filter((variables) => variables.PAYMENT_PROVIDER_URL !== undefined);

    expect(payment).toHaveLength(2);
    for (const variables of payment) expect(variables.PAYMENT_PROVIDER_AUTH).toBe('sigv4');
  });

  it('stays clean under cdk-nag without acknowledging a public sandbox', () => {
    expect(synth.nag.violations.map((v) => v.ruleName)).toEqual([]);
    // APIG4 is "the API implements authorization": it must hold, not be acknowledged.
    // The client API's OpenAPI document is public on purpose (lib/constructs/api.ts says why); nothing else is.
    const apiFindings = synth.nag.suppressedViolations.filter(
      (v) =>
        (v.ruleName.startsWith('AwsSolutions-APIG4') &&
          v.violatingConstructs.some((c) => !c.constructPath.includes('openapi.json'))) ||
        v.violatingConstructs.some((c) => c.constructPath.includes('/Sandbox/HttpApi')),
    );
    expect(apiFindings.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('with a real provider', () => {
  let synth: SynthResult;
  let resources: Resources;

  beforeAll(() => {
    synth = synthBuzzer({ ...REAL, sandbox: false });
    resources = resourcesOf(synth);
  });

  it('deploys no sandbox: no provider, no mail sink, no fault or mail-listing routes', () => {
    expect(synth.stack.sandbox).toBeUndefined();
    expect(Object.keys(synth.template.toJSON().Outputs ?? {})).not.toContain('SandboxUrl');
    expect(JSON.stringify(resources)).not.toMatch(/sandbox/i);
  });

  it('sends the payment steps to the https provider with its key from Secrets Manager', () => {
    const payment = ofType(resources, 'AWS::Lambda::Function')
      .map(([, fn]) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables)
      .filter((variables) => variables.PAYMENT_PROVIDER_URL !== undefined);

    expect(payment).toHaveLength(2);
    for (const variables of payment) {
      expect(variables).toMatchObject({
        PAYMENT_PROVIDER_URL: 'https://api.payments.example',
        PAYMENT_PROVIDER_AUTH: 'bearer',
        PAYMENT_PROVIDER_SECRET_ARN: SECRET_ARN,
      });
    }
  });

  it('grants secretsmanager:GetSecretValue on that one secret to the payment steps only', () => {
    const readers = statementsOf(resources).filter((s) =>
      actionsOf(s).some((action) => action.startsWith('secretsmanager:')),
    );

    expect(readers.map((s) => [s.policy.replace(/Role.*$/, ''), actionsOf(s), s.Resource])).toEqual([
      ['SagaAuthorizePayment', ['secretsmanager:GetSecretValue'], SECRET_ARN],
      ['SagaVoidPayment', ['secretsmanager:GetSecretValue'], SECRET_ARN],
      // The settlement delivery reads its partners' SFTP secrets, which the stack creates (not the provider's).
      [
        'SettlementDeliver',
        ['secretsmanager:GetSecretValue'],
        { Ref: expect.stringMatching(/^SettlementPartner/) },
      ],
    ]);
    expect(statementsOf(resources).flatMap(actionsOf)).not.toContain('execute-api:Invoke');
  });

  it('stays clean under cdk-nag', () => {
    expect(synth.nag.violations.map((v) => v.ruleName)).toEqual([]);
  });
});
