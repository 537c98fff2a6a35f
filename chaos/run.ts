/**
 * One chaos run: drive orders through the system while a fault profile is on, heal, wait for quiescence, do what an
 * operator would (redrive DLQs and failed executions), wait again, then check the ledger. Time is compressed where
 * the local system allows it (Step Functions retry intervals, consumer queues' visibility timeouts), so a run of a
 * few hundred orders takes a minute or two instead of the hours AWS's real timers would need.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeStateMachineCommand, RedriveExecutionCommand } from '@aws-sdk/client-sfn';
import { recoverOrder } from '#functions/operations/recovery.ts';
import { executionName } from '#functions/saga/starter.ts';
import { TOKENS } from '#functions/sandbox/tokens.ts';
import { startBuzzer } from '#local/buzzer/start.ts';
import { EXPRESS_CDK_OUT, EXPRESS_CONTEXT } from '#local/buzzer/synth.ts';
import { consoleLogger } from '#local/logging.ts';
import { executionPages } from '#ops/cli/executions.ts';
import { FaultInjector } from './faults.ts';
import { type ChaosReport, checkLedger } from './ledger.ts';
import {
  liveHolds,
  observeOrders,
  orderStates,
  type PlacedOrder,
  placeOrders,
  readMenu,
  sampleStock,
  sandboxLedger,
  waitForTerminal,
} from './orders.ts';
import {
  type ChaosProfile,
  needsInProcessHooks,
  PROFILES,
  type ProfileName,
  seededRandom,
} from './profiles.ts';
import {
  compressVisibility,
  deadLetterQueues,
  holdMessages,
  queuesHolding,
  redriveDeadLetterQueues,
  sourceQueues,
} from './queues.ts';
import { attachToRunningSystem, type SystemUnderTest, systemFromRuntime } from './system.ts';
import { traceOrders } from './trail.ts';

export interface ChaosOptions {
  orders: number;
  concurrency: number;
  profile: ProfileName;
  /** Changes to the profile for this run (e.g. no mail faults where DLQs cannot be redriven). */
  overrides?: Partial<Omit<ChaosProfile, 'name'>>;
  /** Seed of the run's dice (tokens, items, which deliveries fail). @default random */
  seed?: number;
  /** Use the system a running `npm start` described in `.buzzer/runtime.json` instead of starting one. */
  attach?: boolean;
  /** A system opened by the caller (tests: `systemFromRuntime`, `systemFromOutputs`); the caller closes it. */
  system?: SystemUnderTest;
  projectRoot: string;
  /**
   * How long to wait for the orders to end with the faults on, again after healing them, and again after the redrive.
   * @default 120000
   */
  settleTimeoutMs?: number;
  /** Visibility timeout of consumer queues during the run (restored after); 0 leaves them as deployed. @default 4 */
  visibilityTimeoutSeconds?: number;
  /** Run `cdk synth` before starting a runtime (skipped by the synth cache when nothing changed). @default true */
  synth?: boolean;
  /**
   * Nothing else uses the system during the run, so the provider's totals must match the run's orders exactly.
   * Off for a deployed stack other tests share. @default true
   */
  exclusive?: boolean;
  /**
   * Execution environments per function of a runtime the run starts itself. Slow and timing-out payment calls hold
   * an environment of the sandbox and of AuthorizePayment each, so this, not the CPU, bounds the run's pace.
   * @default 4 (the runtime's default)
   */
  lambdaConcurrency?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

/** Function environment of a runtime the chaos run starts itself (see `openSystem`). */
export const CHAOS_ENVIRONMENT: Readonly<Record<string, string>> = {
  RETRY_BACKOFF_BASE_SECONDS: '1',
  RETRY_BACKOFF_MAX_SECONDS: '4',
  // A run of failures can open a circuit (5 in a row among the injected ones): its orders and mails wait an interval
  // of seconds, not the 30 s a real outage gets, so a run still settles in about a minute.
  PAYMENT_CIRCUIT_OPEN_SECONDS: '3',
  MAIL_CIRCUIT_OPEN_SECONDS: '3',
};

/** Source queues must read empty this many times in a row, half a second apart, to count as drained. */
const QUIET_CHECKS = 3;

async function openSystem(
  options: ChaosOptions,
  profile: ChaosProfile,
): Promise<{ system: SystemUnderTest; stop: () => Promise<void> }> {
  // An EXPRESS saga is a different template (-c workflowType=EXPRESS): its own cloud assembly, so the STANDARD one in
  // cdk.out stays as `npm start` and the tests use it.
  const express = profile.workflowType === 'EXPRESS';
  const cdkOut = path.join(options.projectRoot, express ? EXPRESS_CDK_OUT : 'cdk.out');
  if (options.system) return { system: options.system, stop: async () => {} };
  if (options.attach) {
    const system = await attachToRunningSystem(options.projectRoot);
    return { system, stop: async () => system.close() };
  }
  const runtime = await startBuzzer({
    projectRoot: options.projectRoot,
    synth: options.synth ?? true,
    ...(express ? { cdkOut, context: { ...EXPRESS_CONTEXT } } : {}),
    apiPort: 0,
    clients: ['chaos'],
    functionLogs: false,
    // Warnings about the injected faults themselves would drown the run's own progress lines.
    logger: consoleLogger('error'),
    // Saga retries wait 200 ms instead of 1–16 s, and failed messages back off 1–4 s instead of 30 s–15 min: the
    // run tests what happens, not how long the deployed timers wait.
    retryIntervalOverrideMs: 200,
    environment: CHAOS_ENVIRONMENT,
    ...(options.lambdaConcurrency === undefined ? {} : { lambdaConcurrency: options.lambdaConcurrency }),
  });
  const system = await systemFromRuntime(runtime, cdkOut);
  return {
    system,
    stop: async () => {
      system.close();
      await runtime.stop();
    },
  };
}

/**
 * Waits until every consumer queue stays empty and (in process) EventBridge has delivered everything, or the deadline
 * passes. `holding` names the queues that held messages at the last look (at least one look, even past the deadline).
 */
async function waitForQuiet(
  system: SystemUnderTest,
  deadline: number,
): Promise<{ quiet: boolean; holding: string[] }> {
  let quietInARow = 0;
  for (;;) {
    await system.runtime?.engines.events.waitForIdle();
    const holding = await queuesHolding(system, sourceQueues(system));
    quietInARow = holding.length > 0 ? 0 : quietInARow + 1;
    if (quietInARow >= QUIET_CHECKS) return { quiet: true, holding };
    if (Date.now() >= deadline) return { quiet: false, holding };
    await sleep(500);
  }
}

/** The saga's workflow type as deployed (a run given a system must match its profile's). */
async function workflowTypeOf(system: SystemUnderTest): Promise<string | undefined> {
  const [stateMachineArn] = Object.values(system.stateMachines);
  if (!stateMachineArn) return undefined;
  const { type } = await system.sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  return type;
}

/**
 * Statuses of every execution of each order's saga, by order id: an EXPRESS name is not unique (duplicate starts,
 * restarts), and the reconciler's restarts are named `order-<id>-r<n>`. Only the local engine lists EXPRESS
 * executions (AWS keeps them in CloudWatch Logs), which is why the EXPRESS profiles need a runtime in this process.
 */
async function executionStatuses(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
): Promise<Map<string, string[]>> {
  const byName = new Map(orders.map((order) => [executionName(order.trackingId), order.trackingId]));
  const statuses = new Map<string, string[]>();
  for (const stateMachineArn of Object.values(system.stateMachines)) {
    for await (const executions of executionPages(system.sfn, { stateMachineArn, maxResults: 1000 })) {
      for (const { name, status } of executions) {
        const orderId = byName.get((name ?? '').replace(/-r\d+$/, ''));
        if (orderId && status) statuses.set(orderId, [...(statuses.get(orderId) ?? []), status]);
      }
    }
  }
  return statuses;
}

/**
 * EXPRESS: an open order none of whose executions still runs waits for an operator when one of them failed, or when
 * it holds no live hold. A parked order's executions all SUCCEEDED (ParkOrder ends them) while its hold brings it back;
 * without a hold, nothing will: e.g. an execution that ran twice (AWS's at-least-once) whose second run died in the
 * compensation, after its first run had parked the order and SUCCEEDED.
 */
async function expressNeedOperator(
  system: SystemUnderTest,
  open: readonly PlacedOrder[],
  listed?: Map<string, string[]>,
): Promise<PlacedOrder[]> {
  const statuses = listed ?? (await executionStatuses(system, open));
  const idle = open.filter((order) => {
    const runs = statuses.get(order.trackingId) ?? [];
    return runs.length > 0 && !runs.includes('RUNNING');
  });
  const held = await liveHolds(
    system,
    idle.filter((order) => (statuses.get(order.trackingId) ?? []).every((status) => status === 'SUCCEEDED')),
  );
  return idle.filter((order) => {
    const runs = statuses.get(order.trackingId) ?? [];
    return runs.some((status) => status !== 'SUCCEEDED') || !held.has(order.trackingId);
  });
}

/**
 * EXPRESS executions cannot be redriven: restart the saga of each stuck order as the reconciler and `buzzer saga
 * redrive --order` do (`order-<id>-r<n>`, refused once a compensation has committed, which the check then reports).
 */
async function restartStuckExpressOrders(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  log: (line: string) => void,
): Promise<number> {
  const [stateMachineArn] = Object.values(system.stateMachines);
  if (!stateMachineArn) return 0;
  const deps = {
    doc: system.doc,
    tableName: system.tableName,
    sfn: system.sfn,
    stateMachineArn,
    workflowType: 'EXPRESS' as const,
  };
  let restarted = 0;
  for (const order of await expressNeedOperator(system, orders)) {
    const outcome = await recoverOrder(deps, order.trackingId);
    if (outcome.action === 'restarted') restarted += 1;
    // 'none': the order ended meanwhile (or only an abandoned duplicate failed), nothing to do.
    if (outcome.action === 'blocked')
      log(`cannot restart the saga of ${order.trackingId}: ${outcome.reason}`);
  }
  return restarted;
}

/** The saga executions of `orders` that ended FAILED (e.g. a compensation that kept failing). */
async function failedExecutions(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
): Promise<Array<{ name: string; executionArn: string }>> {
  const names = new Set(orders.map((order) => executionName(order.trackingId)));
  const failed: Array<{ name: string; executionArn: string }> = [];
  for (const stateMachineArn of Object.values(system.stateMachines)) {
    const pages = executionPages(system.sfn, { stateMachineArn, statusFilter: 'FAILED', maxResults: 100 });
    for await (const executions of pages) {
      for (const { name, executionArn } of executions) {
        if (name && executionArn && names.has(name)) failed.push({ name, executionArn });
      }
    }
  }
  return failed;
}

/**
 * Whether every open order waits for an operator: its saga ended FAILED (EXPRESS: `expressNeedOperator`), or it never
 * started while no source queue holds a message and a dead-letter queue does (its `OrderPlaced` was dead-lettered on
 * the saga-start queue: under load, deliveries outlast the run's compressed visibility timeout and use up their
 * receives). None of them moves again until an operator redrives it (or the reconciler, after its 10-minute
 * deadline), so the run stops waiting and goes on to heal and redrive; it then waits for every order again.
 */
export async function allNeedAnOperator(
  system: SystemUnderTest,
  open: readonly PlacedOrder[],
  workflowType: ChaosProfile['workflowType'],
): Promise<boolean> {
  // Listing every execution is worth it only then (rarely, and only on the local runtime, whose queues a run sees).
  const statuses = (await onlyDeadLettersHoldMessages(system))
    ? await executionStatuses(system, open)
    : undefined;
  const started = statuses ? open.filter((order) => statuses.has(order.trackingId)) : open;
  if (workflowType === 'EXPRESS') {
    return (await expressNeedOperator(system, started, statuses)).length === started.length;
  }
  const failed = new Set((await failedExecutions(system, started)).map((execution) => execution.name));
  return started.every((order) => failed.has(executionName(order.trackingId)));
}

/** No message left in a queue a consumer reads (nor on its way there), and at least one in a dead-letter queue. */
async function onlyDeadLettersHoldMessages(system: SystemUnderTest): Promise<boolean> {
  await system.runtime?.engines.events.waitForIdle();
  return (
    !(await holdMessages(system, sourceQueues(system))) &&
    (await holdMessages(system, deadLetterQueues(system)))
  );
}

/** Redrives the saga executions of this run's orders that failed. */
async function redriveFailedExecutions(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  log: (line: string) => void,
): Promise<number> {
  let redriven = 0;
  for (const execution of await failedExecutions(system, orders)) {
    try {
      await system.sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
      redriven += 1;
    } catch (error) {
      // LocalStack has no RedriveExecution; the order then stays open and the check reports it as lost.
      log(`cannot redrive ${execution.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return redriven;
}

/** Where the run stood when it stopped waiting: what the ledger check then sees may still be moving. */
export interface Settled {
  /** Orders not ended, some of which do not wait for an operator: their sagas or messages are still at work. */
  stillAtWork: number;
  /** How many of those are in each state (`orderStates`), so a run that did not settle says where its orders stand. */
  atWork: Record<string, number>;
  /** Whether every consumer queue read empty (and EventBridge idle) before the deadline. */
  queuesEmpty: boolean;
  /** The consumer queues that held messages at the last look, with their depths (none: empty, maybe not for long). */
  queued: string[];
}

/**
 * Waits until every order has ended or waits for an operator, and the queues are empty, or the deadline passes. Both
 * are needed: an ended order's mail and points are still on their queues.
 */
export async function settle(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  deadline: number,
  workflowType: ChaosProfile['workflowType'],
  progress: (open: number) => void = () => {},
): Promise<Settled> {
  const needOperator = (open: readonly PlacedOrder[]) => allNeedAnOperator(system, open, workflowType);
  const open = await waitForTerminal(system, orders, deadline, progress, needOperator);
  const { quiet, holding } = await waitForQuiet(system, deadline);
  const atWork = open.length === 0 || (await needOperator(open)) ? [] : open;
  return {
    stillAtWork: atWork.length,
    atWork: Object.fromEntries(await orderStates(system, atWork)),
    queuesEmpty: quiet,
    queued: holding,
  };
}

/**
 * Why a run that stopped waiting at its deadline must not be read as a verdict on the system, or undefined when it
 * settled: checking while sagas still run reports their orders and effects as lost.
 */
export function unsettledNote(settled: Settled, when: string, waitedMs: number): string | undefined {
  if (settled.stillAtWork === 0 && settled.queuesEmpty) return undefined;
  const what = [
    ...(settled.stillAtWork > 0
      ? [
          `${settled.stillAtWork} ${settled.stillAtWork === 1 ? 'order' : 'orders'} still open and not waiting for an operator` +
            ` (${Object.entries(settled.atWork)
              .map(([state, count]) => `${state}: ${count}`)
              .join('; ')})`,
        ]
      : []),
    ...(settled.queuesEmpty
      ? []
      : [
          `messages still queued (${settled.queued.join('; ') || 'none at the last look, but not quiet for long'})`,
        ]),
  ].join(', ');
  return (
    `did not settle within ${Math.round(waitedMs / 1000)} s ${when} (${what}): the check below ran on a system ` +
    'still at work, so what it calls lost may only be late; run again with a longer --settle-timeout'
  );
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const profile: ChaosProfile = { ...PROFILES[options.profile], ...options.overrides };
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const started = Date.now();
  const log = (line: string) => options.log?.(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
  // What the run could not do as an operator would: in the report too, since a test run passes no `log`.
  const notes: string[] = [];
  const note = (line: string) => {
    notes.push(line);
    log(line);
  };
  const settleTimeoutMs = options.settleTimeoutMs ?? 120_000;
  const exclusive = options.exclusive ?? true;

  const { system, stop } = await openSystem(options, profile);
  let restoreVisibility = async () => {};
  const injector = new FaultInjector(system, profile, random);
  let stockSampler: ReturnType<typeof sampleStock> | undefined;
  try {
    if (needsInProcessHooks(profile) && !system.runtime) {
      throw new Error(
        `profile ${profile.name} needs fault wrappers around the local engines; run it without --attach (only none and provider work attached)`,
      );
    }
    const deployedType = await workflowTypeOf(system);
    if (deployedType !== undefined && deployedType !== profile.workflowType) {
      throw new Error(
        `profile ${profile.name} runs the saga as ${profile.workflowType}, but this system's state machine is ${deployedType}` +
          (profile.workflowType === 'EXPRESS'
            ? ` (synthesize with -c workflowType=EXPRESS into ${EXPRESS_CDK_OUT})`
            : ''),
      );
    }
    const visibility = options.visibilityTimeoutSeconds ?? 4;
    if (visibility > 0) restoreVisibility = await compressVisibility(system, visibility);
    const sandboxBefore = await sandboxLedger(system);
    // Prices, points and stock levels the money check holds the run to.
    const catalogue = await readMenu(system);
    stockSampler = sampleStock(system);
    const runId = randomUUID().slice(0, 8);
    const email = `chaos-${runId}@example.com`;

    log(`profile ${profile.name}: ${profile.description}; seed ${seed}`);
    await injector.arm();
    const driveStart = Date.now();
    const { accepted, rejected } = await placeOrders(system, {
      count: options.orders,
      concurrency: options.concurrency,
      tokens: profile.tokens,
      random,
      email,
      runId,
    });
    const driveMs = Date.now() - driveStart;
    log(`accepted ${accepted.length}, rejected ${rejected.length} in ${(driveMs / 1000).toFixed(1)} s`);

    // Faults stay on until the orders have ended, so they hit the saga and the consumers, not just the accept path.
    const settleStart = Date.now();
    let lastOpen = -1;
    const progress = (open: number) => {
      if (open !== lastOpen) log(`${open} ${open === 1 ? 'order' : 'orders'} still open`);
      lastOpen = open;
    };
    await waitForTerminal(system, accepted, settleStart + settleTimeoutMs, progress, (open) =>
      allNeedAnOperator(system, open, profile.workflowType),
    );
    // Every payment attempt was sent before its order ended; the provider records a charge at most the slowest used
    // token's delay after the request arrived (tok_late: 14 s), so by then every charge the run caused is in place.
    const slowestRecordingMs = Math.max(0, ...accepted.map((order) => TOKENS[order.token].delayBeforeMs));
    const chargesRecordedBy = Date.now() + slowestRecordingMs + 2_000;
    await injector.heal();
    log('faults healed; waiting for the open orders and the queues');
    // A fresh deadline: the one above ran out with faults on (a harsh profile on a slow machine), and healed sagas
    // still have their retries and holds to finish before anything can be called lost.
    const healedAt = Date.now();
    const healed = await settle(system, accepted, healedAt + settleTimeoutMs, profile.workflowType, progress);
    const notSettled = unsettledNote(healed, 'of healing the faults', Date.now() - healedAt);
    if (notSettled) note(notSettled);
    else log('settled: every order ended or waits for an operator, and the queues are empty');
    const settleMs = Date.now() - settleStart;

    const redriveStart = Date.now();
    const deadLetters = await redriveDeadLetterQueues(system);
    const executionsRedriven =
      profile.workflowType === 'EXPRESS'
        ? await restartStuckExpressOrders(system, accepted, note)
        : await redriveFailedExecutions(system, accepted, note);
    if (deadLetters.length > 0 || executionsRedriven > 0) {
      log(
        `redrove ${deadLetters.reduce((n, d) => n + d.redriven, 0)} dead-lettered messages and ${executionsRedriven} executions`,
      );
      const redrivenAt = Date.now();
      const redriven = await settle(
        system,
        accepted,
        redrivenAt + settleTimeoutMs,
        profile.workflowType,
        progress,
      );
      const unsettled = unsettledNote(redriven, 'of the redrive', Date.now() - redrivenAt);
      if (unsettled) note(unsettled);
    }
    const redriveMs = Date.now() - redriveStart;

    // A late charge the compensation failed to void must be in the ledger, not land after the check.
    const waitMs = chargesRecordedBy - Date.now();
    if (waitMs > 0) {
      log(`waiting ${(waitMs / 1000).toFixed(0)} s for late charge attempts to land`);
      await sleep(waitMs);
    }

    const lowestStock = await stockSampler.stop();
    const finalStock = exclusive
      ? new Map([...(await readMenu(system))].map(([sku, item]) => [sku, item.available]))
      : undefined;

    log('checking the ledger');
    const check = async () =>
      checkLedger({
        requested: options.orders,
        observations: await observeOrders(system, accepted, email),
        rejected,
        ...(exclusive
          ? { sandboxTotals: { before: sandboxBefore, after: await sandboxLedger(system) } }
          : {}),
        deadLetters,
        executionsRedriven,
        money: { catalogue, lowestStock, ...(finalStock ? { finalStock } : {}) },
      });
    let ledger = await check();
    // Without queue depths to watch (a deployed stack), effects may still be on their way: look again until the
    // deadline before calling anything lost.
    const effectsDeadline = Date.now() + (Object.keys(system.queues).length === 0 ? settleTimeoutMs : 0);
    while (ledger.counts.lostEffects + ledger.counts.lostOrders > 0 && Date.now() < effectsDeadline) {
      await sleep(2_000);
      ledger = await check();
    }
    const lostIds = [
      ...new Set(ledger.findings.filter((f) => f.kind === 'lost-order').map((f) => f.orderId)),
    ];
    return {
      ...ledger,
      notes,
      trails: await traceOrders(system, lostIds),
      profile: profile.name,
      seed,
      concurrency: options.concurrency,
      faults: injector.stats(),
      timingsMs: { drive: driveMs, settle: settleMs, redrive: redriveMs, total: Date.now() - started },
      acceptRate: accepted.length / Math.max(0.001, driveMs / 1000),
    };
  } finally {
    await stockSampler?.stop().catch(() => {});
    await injector.heal().catch(() => {});
    await restoreVisibility().catch(() => {});
    await stop();
  }
}
