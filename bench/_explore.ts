import { startRuntime } from '#local/runtime.ts';
import { ApiClient, orderBody } from '#test/e2e/client.ts';

const lines: string[] = [];
const t0 = Date.now();
const rt = await startRuntime({
  synth: false,
  apiPort: 0,
  functionLogSink: (fn, line) => lines.push(`${fn} ${line}`),
});
console.log('start ms', Date.now() - t0, rt.info.apiUrl, Object.keys(rt.info.functions).length);
try {
  const api = new ApiClient(rt.info.apiUrl!, Object.values(rt.info.apiKeys)[0]!);
  const t1 = Date.now();
  const p = await api.placeOrder(orderBody(), undefined, { 'x-correlation-id': 'bench-probe-1' });
  console.log('202 in', Date.now() - t1, p.status, p.body);
  const o = await api.waitForOrder(p.body.trackingId);
  console.log('done', Date.now() - t1, JSON.stringify(o.timeline));
  await new Promise((r) => setTimeout(r, 1500));
  for (const l of lines) console.log(l.slice(0, 400));
  const sm = Object.values(rt.info.stateMachines)[0]!;
  const arn = sm.replace(':stateMachine:', ':execution:') + ':order-' + p.body.trackingId;
  const h = rt.engines.stepFunctions.getExecutionHistory({ executionArn: arn });
  console.log(JSON.stringify(h).slice(0, 3000));
  console.log(
    JSON.stringify(rt.engines.stepFunctions.describeExecution({ executionArn: arn })).slice(0, 500),
  );
  console.log(JSON.stringify(rt.engines.stepFunctions.metrics()).slice(0, 500));
  console.log(JSON.stringify(rt.engines.events.metrics()));
  const m = rt.engines.lambda.metrics();
  for (const [k, v] of Object.entries(m))
    console.log(
      k,
      v.invocations,
      v.coldStarts,
      v.totalInitDurationMs.toFixed(0),
      v.totalDurationMs.toFixed(0),
      v.gbSeconds.toFixed(4),
    );
} finally {
  await rt.stop();
}
