/**
 * `npm run profile`: where the CPU of an order goes on the local runtime. Orders arrive at a fixed rate; from the
 * first request until the system is quiet again (every saga ended and every mail, points credit and webhook after
 * it), it records:
 * - the runtime's main thread (the engines: HTTP API, SQS, Step Functions, EventBridge, stream pollers, the Lambda
 *   service's side of the workers) as a V8 CPU profile, taken with the inspector, grouped by package and file;
 * - each function's busy time in its worker threads (event-loop utilisation: a handler's CPU, near enough);
 * - the whole Node process's CPU (the load generator's thread and V8's GC and compiler threads included) and the
 *   CPU of DynamoDB Local's JVM, from /proc.
 * It writes `<out>/profile.json` (figures), `<out>/profile.md` (tables) and `<out>/main.cpuprofile` (open it in
 * Chrome's DevTools). docs/profile.md explains a run's figures and what was cut because of them.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMsOf, descendantsNamed } from '#local/proc-stat.ts';
import {
  BENCH_CDK_OUT,
  type BenchSystem,
  log,
  orderRequest,
  quiesce,
  startBenchSystem,
  trackingIdOf,
  waitForSagas,
  warmupRequests,
} from './harness.ts';
import { type CpuProfile, groupProfile, render } from './profile-model.ts';
import { summarize } from './stats.ts';

/** Resident memory in MB of this process and of the given ones (VmRSS from /proc). */
function residentMb(pids: readonly number[]): { node: number; jvm: number } {
  const jvmKb = pids.reduce((sum, pid) => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return sum + Number(match?.[1] ?? 0);
  }, 0);
  return { node: process.memoryUsage().rss / 1_048_576, jvm: jvmKb / 1024 };
}

interface CpuSnapshot {
  at: number;
  processMs: number;
  mainThreadMs: number;
  jvmMs: number;
  busyMsByFunction: Record<string, number>;
  invocationsByFunction: Record<string, number>;
}

function snapshot(system: BenchSystem, jvmPids: readonly number[]): CpuSnapshot {
  const usage = process.cpuUsage();
  const busyMsByFunction: Record<string, number> = {};
  const invocationsByFunction: Record<string, number> = {};
  for (const [name, metrics] of Object.entries(system.runtime.engines.lambda.metrics())) {
    busyMsByFunction[name] = metrics.busyMs;
    invocationsByFunction[name] = metrics.invocations;
  }
  return {
    at: performance.now(),
    processMs: (usage.user + usage.system) / 1000,
    mainThreadMs: cpuMsOf(`/proc/self/task/${process.pid}/stat`),
    jvmMs: jvmPids.reduce((sum, pid) => sum + cpuMsOf(`/proc/${pid}/stat`), 0),
    busyMsByFunction,
    invocationsByFunction,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '20' },
      out: { type: 'string', default: path.join('.buzzer', 'profile') },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (!(rate > 0 && seconds > 0)) throw new Error('--rate and --seconds must be positive numbers');
  const outDir = path.resolve(values.out);
  await mkdir(outDir, { recursive: true });

  log('starting the local runtime');
  const system = await startBenchSystem({ cdkOut: BENCH_CDK_OUT });
  const environmentsNow = (): number =>
    Object.values(system.runtime.engines.lambda.metrics()).reduce((sum, m) => sum + m.environments, 0);
  const atStart = { residentMb: residentMb(descendantsNamed('java')), environments: environmentsNow() };
  const session = new Session();
  session.connect();
  try {
    log('warm-up: 20 orders at 4/s');
    await system.load.run({
      mode: { type: 'open', ratePerSecond: 4 },
      warmup: warmupRequests(system.apiUrl, system.apiKey),
      requests: Array.from({ length: 20 }, () => orderRequest(system.apiUrl, system.apiKey)),
      timeoutMs: 30_000,
    });
    await quiesce(system);
    const jvmPids = descendantsNamed('java');
    const loadAverage = os.loadavg()[0] ?? 0;

    // Idle: what the runtime costs with nothing to do (pollers, timers), and its resident memory.
    const IDLE_MS = 10_000;
    const idleBefore = snapshot(system, jvmPids);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleAfter = snapshot(system, jvmPids);
    const idle = {
      seconds: IDLE_MS / 1000,
      nodeCores: (idleAfter.processMs - idleBefore.processMs) / IDLE_MS,
      jvmCores: (idleAfter.jvmMs - idleBefore.jvmMs) / IDLE_MS,
      residentMb: residentMb(jvmPids),
      environments: environmentsNow(),
    };

    const offered = Math.round(rate * seconds);
    log(`profiling: ${offered} orders at ${rate}/s, until the system is quiet again`);
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const before = snapshot(system, jvmPids);
    const run = await system.load.run({
      mode: { type: 'open', ratePerSecond: rate },
      requests: Array.from({ length: offered }, () => orderRequest(system.apiUrl, system.apiKey)),
      timeoutMs: 30_000,
    });
    const orderIds = run.results.flatMap((r) => (r.status === 202 ? [trackingIdOf(r.body) ?? ''] : []));
    const outcomes = await waitForSagas(system, orderIds, Math.max(60_000, offered * 500));
    await quiesce(system, 120_000);
    const after = snapshot(system, jvmPids);
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    await writeFile(path.join(outDir, 'main.cpuprofile'), JSON.stringify(profile));

    const orders = orderIds.length;
    const wallMs = after.at - before.at;
    const ends = [...outcomes.values()].map((o) => o.stopDate).sort((a, b) => a - b);
    const firstSent = Math.min(...run.results.map((r) => r.sentAt));
    const timeToTerminal = summarize(
      run.results.flatMap((r) => {
        const id = r.status === 202 ? trackingIdOf(r.body) : undefined;
        const outcome = id ? outcomes.get(id) : undefined;
        return outcome ? [outcome.stopDate - (r.sentAt + r.latencyMs)] : [];
      }),
    );
    const functions = Object.keys(after.busyMsByFunction)
      .map((name) => ({
        function: system.logicalIdOf(name),
        invocationsPerOrder:
          ((after.invocationsByFunction[name] ?? 0) - (before.invocationsByFunction[name] ?? 0)) / orders,
        busyMsPerOrder: ((after.busyMsByFunction[name] ?? 0) - (before.busyMsByFunction[name] ?? 0)) / orders,
      }))
      .filter((f) => f.invocationsPerOrder > 0)
      .sort((a, b) => b.busyMsPerOrder - a.busyMsPerOrder);
    const workersMs = functions.reduce((sum, f) => sum + f.busyMsPerOrder, 0) * orders;
    const groups = groupProfile(profile);
    const mainMs = after.mainThreadMs - before.mainThreadMs;
    const processMs = after.processMs - before.processMs;
    const jvmMs = after.jvmMs - before.jvmMs;
    const figures = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Node ${process.version}`,
      loadAverageAtStart: loadAverage,
      rate,
      seconds,
      orders,
      ended: outcomes.size,
      wallMs,
      completedPerSecond: ends.length > 1 ? (ends.length - 1) / (((ends.at(-1) ?? 0) - firstSent) / 1000) : 0,
      timeToTerminal,
      idle,
      atStart,
      residentMbAfterLoad: residentMb(jvmPids),
      environmentsAfterLoad: environmentsNow(),
      cpuMsPerOrder: {
        total: (processMs + jvmMs) / orders,
        nodeProcess: processMs / orders,
        mainThread: mainMs / orders,
        functionWorkers: workersMs / orders,
        otherThreads: (processMs - mainMs - workersMs) / orders,
        dynamodbLocalJvm: jvmMs / orders,
      },
      cores: {
        nodeProcess: processMs / wallMs,
        mainThread: mainMs / wallMs,
        dynamodbLocalJvm: jvmMs / wallMs,
      },
      functions,
      mainThread: {
        profiledMs: groups.totalMs,
        byGroup: groups.byGroup.slice(0, 25).map((g) => ({ ...g, share: g.ms / groups.totalMs })),
        nativeLeaves: groups.nativeLeaves.slice(0, 15).map((g) => ({ ...g, share: g.ms / groups.totalMs })),
      },
    };
    await writeFile(path.join(outDir, 'profile.json'), `${JSON.stringify(figures, null, 2)}\n`);
    await writeFile(path.join(outDir, 'profile.md'), render(figures));
    process.stdout.write(render(figures));
    log(`wrote ${path.join(outDir, 'profile.md')}, profile.json and main.cpuprofile`);
  } finally {
    session.disconnect();
    await system.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
