import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '#local/engines/gateway.ts';
import { createMetricsService, EmfStore, LOCAL_METRICS_TARGET } from '#local/metrics/emf.ts';
import { type OpsContext, targetFromRuntime } from '#ops/cli/context.ts';
import {
  metricsReport,
  renderMetrics,
  renderMetricsSection,
  shortName,
  summarizeSnapshot,
} from '#ops/cli/metrics.ts';
import { runCli } from '#ops/cli/program.ts';
import { renderStatus, type StatusReport } from '#ops/cli/status.ts';
import { opsContext, runtimeFile } from './helpers.ts';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** A store as the runtime fills it after a few orders (the EMF lines' content, already parsed). */
function filledStore(): EmfStore {
  const store = new EmfStore({ now: () => Date.parse('2026-12-06T10:00:00Z') });
  const add = (metricName: string, dimensions: Record<string, string>, values: number[]) =>
    store.record({
      namespace: 'Buzzer',
      metricName,
      dimensions: { service: 'buzzer', ...dimensions },
      values,
    });
  add('OrdersAccepted', {}, [1, 1, 1, 1, 1]);
  add('OrdersConfirmed', {}, [1, 1, 1]);
  add('OrdersCancelled', { reason: 'OUT_OF_STOCK' }, [1]);
  add('OrdersCancelled', { reason: 'PAYMENT_DECLINED' }, [1]);
  add('WebhookDeliveries', { outcome: 'delivered' }, [1, 1]);
  add('WebhookDeliveries', { outcome: 'retry_scheduled' }, [1]);
  add('RelayPublishFailures', {}, [1]);
  add('CircuitOpened', { breaker: 'payment' }, [1, 1]);
  add('CircuitClosed', { breaker: 'payment' }, [1]);
  add('CallsHeld', { breaker: 'payment' }, [1, 1, 1, 1]);
  add('CallsHeld', { breaker: 'mail' }, [1]);
  add('SagaStepDuration', { step: 'ReserveStock' }, [10, 20, 30, 400]);
  add('ColdStart', { function_name: 'Buzzer-ApiAcceptOrderFunction67D0E2D3' }, [1, 1]);
  add('ColdStart', { function_name: 'Buzzer-SagaReserveStockFunction90F271EF' }, [1]);
  // Out of contract: a dimension the contract does not list, and a name it does not know.
  add('OrdersAccepted', { client: 'alice' }, [1]);
  add('OrdersShipped', {}, [1]);
  // Another namespace is none of our business.
  store.record({ namespace: 'Other', metricName: 'OrdersAccepted', dimensions: {}, values: [7] });
  return store;
}

describe('summary of a snapshot', () => {
  it('counts by the contract: totals, every reason and outcome, steps, cold starts', () => {
    const summary = summarizeSnapshot(filledStore().snapshot());
    expect(summary.orders).toMatchObject({ accepted: 5, confirmed: 3, cancelled: 2 });
    expect(summary.orders.cancelledByReason).toMatchObject({
      OUT_OF_STOCK: 1,
      PAYMENT_DECLINED: 1,
      SAGA_FAILED: 0,
    });
    expect(Object.keys(summary.orders.cancelledByReason)).toHaveLength(7);
    expect(summary.webhookDeliveries).toMatchObject({ delivered: 2, retry_scheduled: 1, gave_up: 0 });
    expect(summary.relayPublishFailures).toBe(1);
    expect(summary.stuckOrdersNeedingOperator).toBe(0);
    expect(summary.circuits).toEqual({
      payment: { opened: 2, closed: 1, held: 4 },
      mail: { opened: 0, closed: 0, held: 1 },
    });
    expect(summary.sagaSteps).toEqual([{ step: 'ReserveStock', runs: 4, p50Ms: 20, maxMs: 400 }]);
    expect(summary.coldStarts).toEqual([
      { function: 'ApiAcceptOrder', count: 2 },
      { function: 'SagaReserveStock', count: 1 },
    ]);
    expect(summary.outOfContract).toEqual([
      'OrdersAccepted {"service":"buzzer","client":"alice"}',
      'OrdersShipped {"service":"buzzer"}',
    ]);
  });

  it('shortens the local runtime physical names', () => {
    expect(shortName('Buzzer-OutboxRelayHandlerFunctionFC8C0A5A', 'Buzzer')).toBe('OutboxRelay');
    expect(shortName('Buzzer-NotifierHandler0A1B2C3D', 'Buzzer')).toBe('Notifier');
  });
});

describe('buzzer metrics', () => {
  let endpoint: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const gateway = await startGateway({ logger: silent });
    gateway.registerService(LOCAL_METRICS_TARGET, createMetricsService(filledStore()));
    endpoint = gateway.endpoint;
    stop = () => gateway.stop();
  });
  afterAll(async () => {
    await stop?.();
  });

  const localContext = (): OpsContext => ({
    ...opsContext({}),
    target: targetFromRuntime({
      ...runtimeFile,
      outputs: { ...runtimeFile.outputs, DashboardName: 'OperationsDashboard1' },
      endpoints: { gateway: endpoint },
    }),
  });

  async function cli(args: string[], context: OpsContext) {
    let out = '';
    let err = '';
    const code = await runCli([...args, '--quiet'], {
      discover: async () => context,
      io: {
        out: (text) => {
          out += text;
        },
        err: (text) => {
          err += text;
        },
      },
    });
    return { code, out, err };
  }

  it('reads the local runtime through the gateway named in runtime.json and prints tables', async () => {
    const { code, out } = await cli(['metrics'], localContext());
    expect(code).toBe(0);
    expect(out).toContain('Buzzer Buzzer (local, us-east-1) metrics since 2026-12-06T10:00:00.000Z');
    expect(out).toMatch(/accepted\s+5\n/);
    expect(out).toMatch(/confirmed\s+3\n/);
    expect(out).toMatch(/cancelled\s+2\n/);
    expect(out).toMatch(/cancelled OUT_OF_STOCK\s+1\n/);
    expect(out).not.toContain('SAGA_FAILED');
    expect(out).toMatch(/delivered\s+2\n/);
    expect(out).toMatch(/relay publish failures\s+1\n/);
    expect(out).toMatch(/ReserveStock\s+4\s+20\s+400\n/);
    expect(out).toMatch(/ApiAcceptOrder\s+2\n/);
    expect(out).toContain('Out of contract');
    expect(out).toContain('Dashboard: OperationsDashboard1');
  });

  it('prints JSON with --json', async () => {
    const { code, out } = await cli(['metrics', '--json'], localContext());
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.metrics.orders).toMatchObject({ accepted: 5, confirmed: 3, cancelled: 2 });
    expect(report.target).toEqual({ kind: 'local', stackName: 'Buzzer', region: 'us-east-1' });
  });

  it('on AWS, points to the dashboard instead of reading CloudWatch', async () => {
    const aws: OpsContext = {
      ...opsContext({}),
      target: { ...opsContext({}).target, kind: 'aws', region: 'eu-west-1', dashboardName: 'BuzzerDash' },
    };
    const report = await metricsReport(aws);
    expect(report.metrics).toBeNull();
    expect(report.note).toMatch(/dashboard/);
    expect(report.dashboard).toEqual({
      name: 'BuzzerDash',
      url: 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/BuzzerDash',
    });
    const text = renderMetrics(report);
    expect(text).toContain('no CloudWatch client');
    expect(text).toContain('Dashboard: BuzzerDash https://eu-west-1.console.aws.amazon.com/');
  });

  it('says so when the runtime serves no metrics (an older runtime) or does not answer', async () => {
    const report = await metricsReport(opsContext({}));
    expect(report.metrics).toBeNull();
    expect(report.note).toMatch(/restart npm start/);
    const refused = await metricsReport(localContext(), async () => {
      throw new Error('ECONNREFUSED');
    });
    expect(refused.note).toMatch(/do not answer: Error: ECONNREFUSED/);
  });
});

describe('buzzer status shows the counts', () => {
  const report = (metrics: StatusReport['metrics']): StatusReport => ({
    generatedAt: '2026-12-06T10:05:00.000Z',
    target: { kind: 'local', stackName: 'Buzzer', region: 'us-east-1' },
    healthy: true,
    dlqs: [],
    workQueues: { queues: [] },
    circuits: [],
    saga: { workflowType: 'STANDARD', failed: [], stuck: [] },
    outbox: { relayDlqDepth: 0, failed: [] },
    orders: { olderThanSeconds: 300, stuck: [] },
    metrics,
  });

  it('renders a short metrics section', () => {
    const summary = summarizeSnapshot(filledStore().snapshot());
    const text = renderStatus(report({ summary }));
    expect(text).toContain('Metrics since 2026-12-06T10:00:00.000Z (buzzer metrics for all)');
    expect(text).toContain(
      'orders              accepted 5, confirmed 3, cancelled 2 (OUT_OF_STOCK 1, PAYMENT_DECLINED 1)',
    );
    expect(text).toContain('webhook deliveries  delivered 2, retry_scheduled 1');
    expect(text).toContain('relay publish failures 1, stuck orders for an operator 0');
  });

  it('renders the note when there are no metrics', () => {
    expect(renderStatus(report({ summary: null, note: 'see the dashboard' }))).toContain(
      'Metrics (buzzer metrics for all)\n  see the dashboard\n',
    );
    expect(renderMetricsSection(null)).toBe('  no metrics\n');
  });
});
