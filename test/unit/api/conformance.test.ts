import { describe, expect, it } from 'vitest';
import { createBuzzerClient } from '#client/index.ts';
import {
  assertConformance,
  conformanceRecorder,
  exercisedPairs,
  problemOf,
  type RecordedResponse,
} from '#test/e2e/conformance.ts';

const TRACKING_ID = '0b0d5a57-3c1e-4a53-9c55-7f2e8f0c2a11';
const view = {
  trackingId: TRACKING_ID,
  status: 'CONFIRMED',
  version: 5,
  items: [{ sku: 'espresso', quantity: 2 }],
  amount: 500,
  currency: 'EUR',
  paymentRef: 'ch_1',
  failureReason: null,
  hold: null,
  createdAt: '2026-12-07T10:00:00.000Z',
  updatedAt: '2026-12-07T10:00:01.000Z',
  timeline: [{ step: 'ReserveStock', status: 'SUCCEEDED', at: '2026-12-07T10:00:00.500Z' }],
};
const answer = (overrides: Partial<RecordedResponse>): RecordedResponse => ({
  method: 'GET',
  path: `/orders/${TRACKING_ID}`,
  status: 200,
  body: view,
  contentType: 'application/json',
  ...overrides,
});

describe('the e2e response-conformance check', () => {
  it('accepts answers the document describes', () => {
    expect(problemOf(answer({}))).toBeUndefined();
    expect(
      problemOf(answer({ status: 404, body: { error: { code: 'not_found', message: 'order not found' } } })),
    ).toBeUndefined();
    expect(problemOf(answer({ status: 403, body: { message: 'Forbidden' } }))).toBeUndefined();
    // The gateway's own answer when the function failed or timed out.
    expect(problemOf(answer({ status: 503, body: { message: 'Service Unavailable' } }))).toBeUndefined();
    expect(
      problemOf(answer({ method: 'DELETE', path: `/webhooks/${TRACKING_ID}`, status: 204, body: undefined })),
    ).toBeUndefined();
  });

  it('fails a status the operation does not describe', () => {
    expect(problemOf(answer({ status: 409, body: { error: { code: 'x', message: 'y' } } }))).toMatch(
      /GET \/orders\/\{trackingId\} → 409: the document describes no such status/,
    );
  });

  it('fails a body of another shape: a missing field, an undescribed one, a wrong type or enum value', () => {
    const { hold: _hold, ...withoutHold } = view;
    expect(problemOf(answer({ body: withoutHold }))).toMatch(/must have required property 'hold'/);
    expect(problemOf(answer({ body: { ...view, clientId: 'c-1' } }))).toMatch(/additional properties/);
    expect(problemOf(answer({ body: { ...view, version: '5' } }))).toMatch(/\/version must be integer/);
    expect(problemOf(answer({ body: { ...view, status: 'DONE' } }))).toMatch(
      /\/status must be equal to one of/,
    );
    expect(problemOf(answer({ status: 400, body: { message: 'Bad Request' } }))).toMatch(
      /required property 'error'/,
    );
    expect(problemOf(answer({ body: 'not json' }))).toMatch(/expected a JSON body/);
  });

  it('leaves requests to routes the document does not have to the gateway', () => {
    expect(
      problemOf(answer({ path: '/nowhere', status: 404, body: { message: 'Not Found' } })),
    ).toBeUndefined();
    expect(problemOf(answer({ method: 'PUT', status: 404, body: { message: 'Not Found' } }))).toBeUndefined();
  });

  it('counts the route × status pairs seen', () => {
    expect(
      exercisedPairs([answer({}), answer({}), answer({ path: '/orders', method: 'POST', status: 202 })]),
    ).toEqual({ 'GET /orders/{trackingId} 200': 2, 'POST /orders 202': 1 });
  });

  it('records what the typed client gets, through its middleware, and fails on a shape the document lacks', async () => {
    // A REST-flavoured base URL (…/api): the recorded path is relative to it, as the document's paths are.
    const served: Array<[number, unknown]> = [
      [200, view],
      [200, { ...view, status: 'DONE' }],
    ];
    const buzzer = createBuzzerClient('http://buzzer.test/api', 'bzk_test', {
      fetch: async () => {
        const [status, body] = served.shift() ?? [500, {}];
        return new Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    buzzer.use(conformanceRecorder('http://buzzer.test/api'));

    const first = await buzzer.GET('/orders/{trackingId}', { params: { path: { trackingId: TRACKING_ID } } });
    expect(first.data?.status).toBe('CONFIRMED');
    expect(() => assertConformance(undefined)).not.toThrow();
    await buzzer.GET('/orders/{trackingId}', { params: { path: { trackingId: TRACKING_ID } } });

    expect(exercisedPairs()).toEqual({ 'GET /orders/{trackingId} 200': 2 });
    expect(() => assertConformance(undefined)).toThrow(
      /1 API answer\(s\)[\s\S]*\/status must be equal to one of/,
    );
  });
});
