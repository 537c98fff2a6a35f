import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE } from '#contracts/metrics.ts';
import { startGateway } from '#local/engines/gateway.ts';
import {
  createMetricsService,
  EmfStore,
  LOCAL_METRICS_TARGET,
  type MetricSeries,
  type MetricsSnapshot,
  parseEmfLine,
} from '#local/metrics/emf.ts';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** What Powertools Metrics prints while `emit` runs (it writes to process.stdout through its own Console). */
function printed(emit: () => void): string[] {
  let text = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    emit();
  } finally {
    write.mockRestore();
  }
  return text.split('\n').filter((line) => line !== '');
}

/** The writer of functions/shared/metrics.ts, as a cold Lambda environment has it. */
function writer(): Metrics {
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.stubEnv('POWERTOOLS_DEV', '');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
}

const find = (series: MetricSeries[], name: string, dimensions: Record<string, string>) =>
  series.find(
    (s) =>
      s.metricName === name &&
      JSON.stringify(Object.entries(s.dimensions).sort()) ===
        JSON.stringify(Object.entries(dimensions).sort()),
  );

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('EMF reader on real Powertools output', () => {
  it('counts metrics, values grouped into arrays, dimensions and cold starts', () => {
    const metrics = writer();
    const lines = printed(() => {
      metrics.captureColdStartMetric('Buzzer-ApiAcceptOrderFunction1A2B3C4D');
      metrics.addMetric(METRICS.OrdersAccepted, MetricUnit.Count, 1);
      metrics.addMetric(METRICS.OrdersAccepted, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      metrics.addDimension('outcome', 'delivered');
      metrics.addMetric(METRICS.WebhookDeliveries, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    });
    expect(lines).toHaveLength(3);

    const store = new EmfStore();
    for (const line of lines) expect(store.ingest(line)).toBe(true);
    const { series, lines: counted } = store.snapshot();

    expect(counted).toEqual({ emf: 3, invalid: 0 });
    expect(find(series, 'OrdersAccepted', { service: 'buzzer' })).toMatchObject({
      namespace: 'Buzzer',
      unit: 'Count',
      count: 2,
      sum: 2,
    });
    expect(find(series, 'WebhookDeliveries', { service: 'buzzer', outcome: 'delivered' })?.sum).toBe(1);
    // Powertools' cold start: a single-metric line with the service and function_name dimensions.
    expect(
      find(series, 'ColdStart', { service: 'buzzer', function_name: 'Buzzer-ApiAcceptOrderFunction1A2B3C4D' })
        ?.sum,
    ).toBe(1);
  });

  it('records a metric once per dimension set of a multi-dimension-set line', () => {
    const metrics = writer();
    const lines = printed(() => {
      metrics.addDimension('reason', 'OUT_OF_STOCK');
      metrics.addDimensions({ region: 'eu', tier: 'gold' });
      metrics.addMetric(METRICS.OrdersCancelled, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    });
    const parsed = parseEmfLine(lines[0] ?? '');
    expect(parsed?.map((v) => v.dimensions)).toEqual([
      { service: 'buzzer', reason: 'OUT_OF_STOCK' },
      { service: 'buzzer', region: 'eu', tier: 'gold' },
    ]);

    const store = new EmfStore();
    store.ingest(lines[0] ?? '');
    const { series } = store.snapshot();
    expect(series).toHaveLength(2);
    expect(find(series, 'OrdersCancelled', { service: 'buzzer', reason: 'OUT_OF_STOCK' })?.sum).toBe(1);
    expect(find(series, 'OrdersCancelled', { service: 'buzzer', region: 'eu', tier: 'gold' })?.sum).toBe(1);
  });

  it('reads singleMetric lines and gives durations their percentiles and maximum', () => {
    const metrics = writer();
    const store = new EmfStore();
    const durations = [5, 7, 9, 11, 13, 15, 17, 19, 21, 200];
    const lines = printed(() => {
      for (const ms of durations) {
        const single = metrics.singleMetric();
        single.addDimension('step', 'ReserveStock');
        single.addMetric(METRICS.SagaStepDuration, MetricUnit.Milliseconds, ms);
      }
    });
    expect(lines).toHaveLength(durations.length);
    for (const line of lines) store.ingest(line);
    expect(
      find(store.snapshot().series, 'SagaStepDuration', { service: 'buzzer', step: 'ReserveStock' }),
    ).toMatchObject({
      unit: 'Milliseconds',
      count: 10,
      sum: 317,
      min: 5,
      max: 200,
      p50: 13,
      p99: 200,
    });
  });

  it('ignores lines that are not EMF, even JSON that looks like it', () => {
    const store = new EmfStore();
    const notEmf = [
      'START RequestId: 1 Version: $LATEST',
      '{"level":"INFO","message":"order accepted","service":"accept-order","OrdersAccepted":1}',
      '{"message":"about EMF","CloudWatchMetrics":[{"Namespace":"Buzzer","Metrics":[{"Name":"OrdersAccepted"}]}],"OrdersAccepted":1}',
      '{"_aws":"not an object","OrdersAccepted":1}',
      '{"_aws":{"CloudWatchMetrics":[{"Namespace":"Buzzer","Dimensions":[["service"]],"Metrics":[{"Name":"OrdersAccepted"}]}]},"service":"buzzer","OrdersAccepted":1}',
      '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[',
      '[1,2,3]',
      '',
    ];
    for (const line of notEmf) expect(store.ingest(line), line).toBe(false);
    expect(store.snapshot().series).toEqual([]);
    // Lines that claim to be EMF (`_aws`) but are not are counted as invalid, for diagnosis.
    expect(store.snapshot().lines).toEqual({ emf: 0, invalid: 3 });
  });

  it('skips what CloudWatch would not extract inside an EMF line and keeps the rest', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: 1,
        CloudWatchMetrics: [
          {
            Namespace: 'Buzzer',
            Dimensions: [['service', 'missing'], ['service']],
            Metrics: [{ Name: 'OrdersAccepted' }, { Name: 'NotANumber' }, { Name: 'Absent' }, 'bad'],
          },
          { Namespace: 'Other', Dimensions: [], Metrics: [{ Name: 'Plain', Unit: 'Count' }] },
          { Dimensions: [['service']], Metrics: [{ Name: 'OrdersAccepted' }] },
        ],
      },
      service: 'buzzer',
      OrdersAccepted: 1,
      NotANumber: 'one',
      Plain: [2, 3],
    });
    expect(parseEmfLine(line)).toEqual([
      { namespace: 'Buzzer', metricName: 'OrdersAccepted', dimensions: { service: 'buzzer' }, values: [1] },
      { namespace: 'Other', metricName: 'Plain', unit: 'Count', dimensions: {}, values: [2, 3] },
    ]);
  });

  it('keeps a bounded number of values per series but counts them all', () => {
    const store = new EmfStore({ maxSamples: 3 });
    for (const v of [1, 2, 3, 100, 100, 100]) {
      store.record({ namespace: 'Buzzer', metricName: 'SagaStepDuration', dimensions: {}, values: [v] });
    }
    expect(store.snapshot().series[0]).toMatchObject({ count: 6, sum: 306, min: 1, max: 100, p50: 100 });
    store.reset();
    expect(store.snapshot().series).toEqual([]);
  });
});

describe('the metrics service on the runtime gateway', () => {
  it('answers GetMetrics with the snapshot and ResetMetrics starts counting again', async () => {
    const store = new EmfStore();
    store.record({
      namespace: 'Buzzer',
      metricName: 'OrdersAccepted',
      dimensions: { service: 'buzzer' },
      values: [1],
    });
    const gateway = await startGateway({ logger: silent });
    gateway.registerService(LOCAL_METRICS_TARGET, createMetricsService(store));
    const call = (operation: string) =>
      fetch(gateway.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `${LOCAL_METRICS_TARGET}.${operation}`,
        },
        body: '{}',
      });
    try {
      expect(gateway.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:/);
      const snapshot = (await (await call('GetMetrics')).json()) as MetricsSnapshot;
      expect(snapshot.series).toEqual([expect.objectContaining({ metricName: 'OrdersAccepted', sum: 1 })]);
      expect((await call('ResetMetrics')).status).toBe(200);
      expect(((await (await call('GetMetrics')).json()) as MetricsSnapshot).series).toEqual([]);
      const unknown = await call('Nope');
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
    } finally {
      await gateway.stop();
    }
  });
});
