import { beforeAll, describe, expect, it } from 'vitest';
import { ORDER_FLOWS } from '#contracts/api.ts';
import { ENV } from '#contracts/environment.ts';
import { mailConfigSchema } from '#functions/notifications/mail.ts';
import { mailSenderConfigSchema } from '#functions/notifications/mail-sender-config.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { DeploymentConfigError, validateDeployment } from '#lib/buzzer-stack.ts';
import { ORDER_ROUTE_TIMEOUT, PLACE_ORDER_ROUTES, PLACE_ORDER_SYNC_TIMEOUT } from '#lib/constructs/api.ts';
import type { BuzzerFunction } from '#lib/constructs/buzzer-function.ts';
import { loadConfig } from '#shared/config.ts';
import { type SynthResult, synthApp, synthBuzzer } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Resources = Record<string, Resource>;
type Statement = { Action: string | string[]; Resource: unknown };

let async: SynthResult;
let sync: SynthResult;
let syncRest: SynthResult;

beforeAll(() => {
  // Unbundled (stack.test.ts bundles every handler once; the e2e synth bundles the sync variant). The plain sync
  // variant is the one table-access.test.ts checks too: one synthesis for both in a worker.
  async = synthBuzzer();
  sync = synthBuzzer({ orderFlow: 'sync' });
  syncRest = synthBuzzer({ orderFlow: 'sync', apiFlavour: 'rest' });
});

const resourcesOf = (synth: SynthResult) => synth.template.toJSON().Resources as Resources;
const logicalId = (synth: SynthResult, construct: { node: { defaultChild?: unknown } }) =>
  synth.stack.getLogicalId(construct.node.defaultChild as never);
const functionsOf = (synth: SynthResult) =>
  Object.entries(resourcesOf(synth)).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
const envOf = (synth: SynthResult, fn: BuzzerFunction): Record<string, unknown> => {
  const environment = resourcesOf(synth)[logicalId(synth, fn.function)]?.Properties.Environment as
    | { Variables: Record<string, unknown> }
    | undefined;
  return environment?.Variables ?? {};
};
const placeOrderSync = (synth: SynthResult): BuzzerFunction => {
  const fn = synth.stack.api.handlers[PLACE_ORDER_ROUTES.sync.key];
  if (!fn) throw new Error('orderFlow=sync deployed no PlaceOrderSync function');
  return fn;
};
const statementsOf = (synth: SynthResult, fn: BuzzerFunction): Statement[] =>
  Object.values(resourcesOf(synth))
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: logicalId(synth, fn.role) }]),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
/** The sandbox routes a function may invoke, as `<METHOD>/<path>` (the tail of each execute-api ARN). */
const sandboxRoutesOf = (synth: SynthResult, fn: BuzzerFunction): string[] =>
  statementsOf(synth, fn)
    .filter((s) => [s.Action].flat().includes('execute-api:Invoke'))
    .flatMap((s) => [s.Resource].flat())
    .map((arn) => {
      const parts = (arn as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      return String(parts[parts.length - 1]).replace(/^\/[^/]*\//, '');
    })
    .sort();
/** The environment variables whose names start with `prefix`. */
const only = (env: Record<string, unknown>, prefix: string) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith(prefix)));
const serviceNames = (synth: SynthResult) =>
  functionsOf(synth)
    .map(([, r]) => (r.Properties.Environment as { Variables: Record<string, unknown> }).Variables)
    .map((vars) => vars.POWERTOOLS_SERVICE_NAME)
    .sort();

describe('orderFlow context key', () => {
  it('is async by default and refuses an unknown value with the choices', () => {
    expect(ORDER_FLOWS).toEqual(['async', 'sync']);
    expect(validateDeployment({ sandbox: true }).orderFlow).toBe('async');
    expect(validateDeployment({ sandbox: true, orderFlow: 'sync' }).orderFlow).toBe('sync');
    const bad = () => validateDeployment({ sandbox: true, orderFlow: 'synchronous' as never });
    expect(bad).toThrow(DeploymentConfigError);
    expect(bad).toThrow(
      /^Buzzer: orderFlow must be "async" or "sync" \(-c orderFlow=sync .*\), got "synchronous"$/,
    );
  });

  it('makes `cdk synth` of the app with an unknown value fail with the message alone', () => {
    const result = synthApp({ sandbox: true, consoleSite: false, orderFlow: 'Sync' });

    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^Buzzer: orderFlow must be "async" or "sync" .*got "Sync"$/);
  });
});

describe('the default order flow (async)', () => {
  it('serves POST /orders with AcceptOrder and deploys no PlaceOrderSync', () => {
    expect(async.stack.api.orderFlow).toBe('async');
    expect(async.stack.api.placeOrder).toBe(async.stack.api.handlers.AcceptOrder);
    expect(async.stack.api.handlers[PLACE_ORDER_ROUTES.sync.key]).toBeUndefined();
    expect(serviceNames(async)).toContain('api-AcceptOrder');
    expect(serviceNames(async)).not.toContain('api-PlaceOrderSync');
    expect(Object.keys(resourcesOf(async)).some((id) => id.startsWith('ApiPlaceOrderSync'))).toBe(false);
    const timeout =
      resourcesOf(async)[logicalId(async, async.stack.api.placeOrder.function)]?.Properties.Timeout;
    expect(timeout).toBe(ORDER_ROUTE_TIMEOUT.toSeconds());
  });
});

describe('the synchronous order flow (orderFlow=sync)', () => {
  it("integrates the client API's POST /orders with PlaceOrderSync, and deploys no AcceptOrder", () => {
    const fn = placeOrderSync(sync);
    expect(sync.stack.api.placeOrder).toBe(fn);
    expect(fn.entry).toBe('orders/place-order-sync.ts');
    expect(sync.stack.api.handlers.AcceptOrder).toBeUndefined();
    expect(Object.keys(resourcesOf(sync)).some((id) => id.startsWith('ApiAcceptOrder'))).toBe(false);

    const clientApi = logicalId(sync, sync.stack.api.httpApi as never);
    const routes = Object.values(resourcesOf(sync)).filter(
      (r) =>
        r.Type === 'AWS::ApiGatewayV2::Route' &&
        r.Properties.RouteKey === 'POST /orders' &&
        JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: clientApi }),
    );
    expect(routes).toHaveLength(1);
    const target = JSON.stringify(routes[0]?.Properties.Target);
    const [integrationId] = /ApiHttpApiPOSTorders\w+/.exec(target) ?? [];
    expect(integrationId).toMatch(/PlaceOrderSyncIntegration/);
    expect(resourcesOf(sync)[integrationId ?? '']?.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(sync, fn.function), 'Arn'] },
    });
  });

  it('deploys every other function of the default flow: the other routes, the relay, the saga and the consumers', () => {
    const expected = serviceNames(async)
      .filter((name) => name !== 'api-AcceptOrder')
      .concat('api-PlaceOrderSync')
      .sort();
    expect(serviceNames(sync)).toEqual(expected);
    expect(serviceNames(sync)).toEqual(
      expect.arrayContaining([
        'outbox-relay',
        'saga-starter',
        'saga-AuthorizePayment',
        'notify-worker',
        'points-worker',
      ]),
    );
    expect(sync.stack.saga.stateMachine).toBeDefined();
    expect(sync.stack.notifier).toBeDefined();
  });

  it('gives PlaceOrderSync the payment steps’ environment and the notify worker’s mail environment, the same values', () => {
    const env = envOf(sync, placeOrderSync(sync));
    const authorize = envOf(sync, sync.stack.saga.steps.AuthorizePayment);
    const notifier = envOf(sync, sync.stack.notifier?.handler as BuzzerFunction);
    const sandboxUrl = {
      'Fn::GetAtt': [logicalId(sync, sync.stack.sandbox?.httpApi as never), 'ApiEndpoint'],
    };

    expect(only(env, 'PAYMENT_')).toEqual(only(authorize, 'PAYMENT_'));
    expect(only(env, 'PAYMENT_')).toEqual({
      [ENV.PAYMENT_PROVIDER_URL]: sandboxUrl,
      [ENV.PAYMENT_PROVIDER_AUTH]: 'sigv4',
      [ENV.PAYMENT_TIMEOUT_MS]: '3000',
      [ENV.PAYMENT_SETTLE_SECONDS]: '30',
      [ENV.PAYMENT_KEY_RETENTION_HOURS]: '24',
      [ENV.PAYMENT_CIRCUIT_FAILURE_THRESHOLD]: '5',
      [ENV.PAYMENT_CIRCUIT_OPEN_SECONDS]: '30',
      [ENV.PAYMENT_HOLD_SECONDS]: '900',
      [ENV.PAYMENT_RELEASE_PER_SECOND]: '20',
    });
    expect(only(env, 'MAIL_')).toEqual(only(notifier, 'MAIL_'));
    expect(only(env, 'MAIL_')).toEqual({
      [ENV.MAIL_TRANSPORT]: 'sink',
      [ENV.MAIL_SINK_URL]: sandboxUrl,
      [ENV.MAIL_FROM]: 'orders@buzzer.invalid',
      [ENV.MAIL_CIRCUIT_FAILURE_THRESHOLD]: '5',
      [ENV.MAIL_CIRCUIT_OPEN_SECONDS]: '30',
    });
    expect(env[ENV.TABLE_NAME]).toEqual({ Ref: logicalId(sync, sync.stack.data.table) });
    expect(env[ENV.POWERTOOLS_SERVICE_NAME]).toBe('api-PlaceOrderSync');
  });

  it('has an environment the payment steps’ and the mail senders’ config schemas load', () => {
    // Tokens replaced by values of their kind, as Lambda would see them.
    const env = Object.fromEntries(
      Object.entries(envOf(sync, placeOrderSync(sync))).map(([name, value]) => [
        name,
        typeof value === 'string'
          ? value
          : name.endsWith('_URL')
            ? 'https://abc123.execute-api.eu-west-1.amazonaws.com'
            : 'Buzzer-DataTable',
      ]),
    );
    const withRegion = { AWS_REGION: 'eu-west-1', ...env };
    expect(loadConfig(mailSenderConfigSchema.and(mailConfigSchema), withRegion)).toMatchObject({
      MAIL_TRANSPORT: 'sink',
      MAIL_CIRCUIT_FAILURE_THRESHOLD: 5,
    });
    expect(paymentStepDeps(withRegion)).toMatchObject({ tableName: 'Buzzer-DataTable', holdMs: 900_000 });
  });

  it('lets PlaceOrderSync call the sandbox payment routes, as AuthorizePayment, and its mail route, as the notify worker', () => {
    const routes = sandboxRoutesOf(sync, placeOrderSync(sync));
    const payment = sandboxRoutesOf(sync, sync.stack.saga.steps.AuthorizePayment);
    const mail = sandboxRoutesOf(sync, sync.stack.notifier?.handler as BuzzerFunction);
    expect(payment).toEqual(expect.arrayContaining(['POST/v1/charges']));
    expect(mail).toEqual(['POST/v1/mail']);
    expect(routes).toEqual([...new Set([...payment, ...mail])].sort());
  });

  it('gets the longest timeout the API integration allows: 30 s on an HTTP API, 29 s on a REST API', () => {
    const timeoutOf = (synth: SynthResult) =>
      resourcesOf(synth)[logicalId(synth, placeOrderSync(synth).function)]?.Properties.Timeout;
    expect(timeoutOf(sync)).toBe(30);
    expect(timeoutOf(syncRest)).toBe(29);
    expect(PLACE_ORDER_SYNC_TIMEOUT.http.toSeconds()).toBe(30);
    expect(PLACE_ORDER_SYNC_TIMEOUT.rest.toSeconds()).toBe(29);
    // Neither integration is given a timeout of its own: each keeps its flavour's default, which is that limit.
    const integrations = Object.values(resourcesOf(sync)).filter(
      (r) => r.Type === 'AWS::ApiGatewayV2::Integration',
    );
    for (const integration of integrations) expect(integration.Properties.TimeoutInMillis).toBeUndefined();
  });

  it("integrates the REST flavour's POST /orders with PlaceOrderSync too", () => {
    const fn = logicalId(syncRest, placeOrderSync(syncRest).function);
    const resources = resourcesOf(syncRest);
    const ordersResource = Object.entries(resources).find(
      ([id, r]) =>
        r.Type === 'AWS::ApiGateway::Resource' &&
        id.startsWith('ApiRestApi') &&
        r.Properties.PathPart === 'orders',
    )?.[0];
    const posts = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::ApiGateway::Method' &&
        r.Properties.HttpMethod === 'POST' &&
        JSON.stringify(r.Properties.ResourceId) === JSON.stringify({ Ref: ordersResource }),
    );
    expect(posts).toHaveLength(1);
    expect(
      JSON.stringify((posts[0]?.Properties.Integration as { Uri?: unknown } | undefined)?.Uri),
    ).toContain(`"${fn}","Arn"`);
    expect(Object.keys(resources).some((id) => id.startsWith('ApiAcceptOrder'))).toBe(false);
  });

  it.each([
    ['HTTP API', () => sync],
    ['REST API', () => syncRest],
  ])('passes cdk-nag AwsSolutions (%s)', (_flavour, synth) => {
    expect(
      synth().nag.violations.map((v) => `${v.ruleName} @ ${v.violatingConstructs[0]?.constructPath}`),
    ).toEqual([]);
    for (const v of synth().nag.suppressedViolations) expect(v.reason.length, v.ruleName).toBeGreaterThan(30);
  });
});
