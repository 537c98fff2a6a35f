/**
 * The business metrics end to end on the local runtime: the handlers write EMF lines through Powertools Metrics
 * (contracts/metrics.ts), the runtime reads them from the function output (local/metrics/emf.ts), and `buzzer metrics`
 * shows the same counts the dashboard graphs on AWS. Local only: a deployed stack's metrics are in CloudWatch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeFile } from '#ops/cli/context.ts';
import type { MetricsReport } from '#ops/cli/metrics.ts';
import type { StatusReport } from '#ops/cli/status.ts';
import { buzzerJson } from './cli-support.ts';
import { ApiClient, orderBody } from './client.ts';
import { startTarget, type Target } from './target.ts';

let target: Target;
let runtimeFile: RuntimeFile;
let alice: ApiClient;

const buzzer = <T>(...args: string[]) => buzzerJson<T>(runtimeFile, ...args);

describe('business metrics on the local runtime', () => {
  beforeAll(async () => {
    target = await startTarget({ clients: ['alice'] });
    const runtime = target.runtime;
    if (!runtime) throw new Error('the local target has no runtime');
    runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
    alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  });

  afterAll(async () => {
    await target?.stop();
  });

  it('counts accepted, confirmed and cancelled orders, saga steps and cold starts from the EMF lines', async () => {
    const confirmed = 3;
    const ids: string[] = [];
    for (let i = 0; i < confirmed; i++) {
      ids.push((await alice.placeOrder(orderBody({ paymentToken: 'tok_ok' }))).body.trackingId);
    }
    const declined = (await alice.placeOrder(orderBody({ paymentToken: 'tok_decline' }))).body.trackingId;
    // A fresh runtime: every function of the flow starts cold, and the suite shares two cores with other files.
    for (const id of ids) expect((await alice.waitForOrder(id, undefined, 120_000)).status).toBe('CONFIRMED');
    expect((await alice.waitForOrder(declined, undefined, 120_000)).status).toBe('CANCELLED');

    // The last EMF lines are flushed at the end of each invocation: wait for the counts, not for a lucky schedule.
    await expect
      .poll(async () => (await buzzer<MetricsReport>('metrics')).metrics?.orders.confirmed ?? 0)
      .toBeGreaterThanOrEqual(confirmed);
    const { metrics } = await buzzer<MetricsReport>('metrics');
    expect(metrics).not.toBeNull();
    expect(metrics?.orders.accepted).toBeGreaterThanOrEqual(confirmed + 1);
    expect(metrics?.orders.cancelledByReason.PAYMENT_DECLINED).toBeGreaterThanOrEqual(1);
    expect(metrics?.sagaSteps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['ReserveStock', 'AuthorizePayment', 'ConfirmOrder']),
    );
    expect(metrics?.coldStarts.length).toBeGreaterThan(0);
    expect(metrics?.outOfContract).toEqual([]);

    // The runtime's store and the CLI agree; `buzzer status` shows the same counts.
    const snapshot = target.runtime?.metrics.snapshot();
    expect(snapshot?.lines.invalid).toBe(0);
    const status = await buzzer<StatusReport>('status');
    expect(status.metrics.summary?.orders.confirmed).toBeGreaterThanOrEqual(confirmed);
  }, 300_000);
});
