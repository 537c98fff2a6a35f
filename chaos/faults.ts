/**
 * Turns a profile into faults on a running system and takes them away again (the heal step). Payment and mail faults
 * go through the sandbox provider's knobs and the tokens the orders carry; crashes, duplicate deliveries and PutEvents
 * failures go through wrappers installed around the local engines (`LambdaFaults` around Lambda invocations, `PutEventsFaults`
 * around the bus's PutEvents, `ExpressFaults` around EXPRESS StartExecution: `local/faults/`).
 */

import { EVENT_SOURCE } from '#contracts/events.ts';
import type { PutEventsEntryInput } from '#local/engines/stepfunctions/types.ts';
import { type ExpressFault, type ExpressFaultCounts, ExpressFaults } from '#local/faults/express.ts';
import {
  faultsOf,
  type InjectedFaultCounts,
  type InvocationFault,
  type InvocationFaultRule,
} from '#local/faults/index.ts';
import { authenticatedFetch } from '#shared/request-auth.ts';
import { type ChaosProfile, STEP_MAX_CRASHES } from './profiles.ts';
import type { SystemUnderTest } from './system.ts';

export interface FaultStats {
  /** Per function (logical id without its hash): invocations that failed before running, crashed, ran twice. */
  invocations: Record<string, InjectedFaultCounts>;
  putEventsFailures: number;
  busDuplicates: number;
  /** How the saga ran, and what the `express` faults did to its executions (all 0 for STANDARD). */
  workflowType: ChaosProfile['workflowType'];
  executions: ExpressFaultCounts;
}

/** A restart lands at a random point of the execution: most sagas end within this, even under load. */
const RESTART_WITHIN_MS = 3_000;
/** A duplicate start arrives within this of the first (the same start delivered twice). */
const DUPLICATE_START_WITHIN_MS = 1_000;

/** Records of an SQS or stream batch event, if it is one. */
function recordsOf(event: unknown): unknown[] | undefined {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) ? records : undefined;
}

function messageIdOf(entry: PutEventsEntryInput): string | undefined {
  try {
    const detail = JSON.parse(entry.Detail ?? '') as { messageId?: unknown };
    return typeof detail.messageId === 'string' ? detail.messageId : undefined;
  } catch {
    return undefined;
  }
}

const shortName = (logicalId: string) => logicalId.replace(/[0-9A-F]{8}$/, '').replace(/Function$/, '');

export class FaultInjector {
  private readonly system: SystemUnderTest;
  private readonly profile: ChaosProfile;
  private readonly random: () => number;
  private readonly relayFailures = new Map<string, number>();
  private readonly stepCrashes = new Map<string, number>();
  private readonly duplicated = new Set<string>();
  private readonly ourCopies = new WeakSet<PutEventsEntryInput>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private baseline: Record<string, InjectedFaultCounts> = {};
  private express: ExpressFaults | undefined;
  private counters = { putEventsFailures: 0, busDuplicates: 0 };

  constructor(system: SystemUnderTest, profile: ChaosProfile, random: () => number) {
    this.system = system;
    this.profile = profile;
    this.random = random;
  }

  async arm(): Promise<void> {
    const { profile, system } = this;
    if (Object.keys(profile.sandbox).length > 0) await this.setSandboxFaults(profile.sandbox);
    const runtime = system.runtime;
    if (!runtime) return;
    const faults = faultsOf(runtime);
    this.baseline = faults.lambda.injectedFaults();
    const { topology } = system;
    const consumers = new Set([
      ...topology.sqsConsumers.map((c) => c.functionLogicalId),
      ...topology.streamConsumers,
    ]);
    for (const logicalId of consumers) this.setRule(logicalId, this.consumerRule());
    for (const logicalId of topology.stateMachineSteps) this.setRule(logicalId, this.stepRule(logicalId));
    if (profile.relayFailureRate > 0 || profile.duplicateRate > 0) {
      faults.putEvents.setFault((entry) => this.putEventsRule(entry));
    }
    if (profile.duplicateStartRate > 0 || profile.restartRate > 0) {
      this.express = new ExpressFaults(runtime.engines.stepFunctions);
      this.express.install(() => this.expressRule());
    }
  }

  async heal(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (Object.keys(this.profile.sandbox).length > 0) await this.setSandboxFaults({});
    const runtime = this.system.runtime;
    if (!runtime) return;
    const faults = faultsOf(runtime);
    faults.lambda.clearFaults();
    faults.putEvents.setFault(undefined);
    this.express?.remove();
  }

  stats(): FaultStats {
    const invocations: Record<string, InjectedFaultCounts> = {};
    const runtime = this.system.runtime;
    const now = runtime ? faultsOf(runtime).lambda.injectedFaults() : {};
    const idsByName = new Map(Object.entries(this.system.functions).map(([id, name]) => [name, id]));
    for (const [name, counts] of Object.entries(now)) {
      const before = this.baseline[name] ?? { error: 0, crash: 0, duplicate: 0 };
      const delta = {
        error: counts.error - before.error,
        crash: counts.crash - before.crash,
        duplicate: counts.duplicate - before.duplicate,
      };
      if (delta.error + delta.crash + delta.duplicate === 0) continue;
      invocations[shortName(idsByName.get(name) ?? name)] = delta;
    }
    return {
      invocations,
      ...this.counters,
      workflowType: this.profile.workflowType,
      executions: this.express?.counts() ?? { duplicates: 0, restarts: 0, abandoned: 0 },
    };
  }

  private roll(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }

  private setRule(logicalId: string, rule: InvocationFaultRule): void {
    const name = this.system.functions[logicalId];
    const runtime = this.system.runtime;
    if (name && runtime) faultsOf(runtime).lambda.setFault(name, rule);
  }

  /** Crash (before the work, mid-batch, or after it), else maybe a duplicate delivery. */
  private consumerRule(): InvocationFaultRule {
    const { consumerCrashRate, duplicateRate } = this.profile;
    return (event): InvocationFault | undefined => {
      if (this.roll(consumerCrashRate)) {
        const kind = this.random();
        if (kind < 1 / 3) return 'error';
        const records = recordsOf(event);
        if (kind < 2 / 3 && records && records.length > 1) {
          return {
            crashAfter: { ...(event as object), Records: records.slice(0, Math.ceil(records.length / 2)) },
          };
        }
        return 'crash';
      }
      return this.roll(duplicateRate) ? 'duplicate' : undefined;
    };
  }

  /**
   * A step fails before running or crashes after its work (its answer lost), at most `STEP_MAX_CRASHES` times per
   * order, else maybe runs twice. The saga must retry it and converge on one effect.
   */
  private stepRule(logicalId: string): InvocationFaultRule {
    const { stepCrashRate, duplicateRate } = this.profile;
    return (event): InvocationFault | undefined => {
      const orderId = (event as { orderId?: unknown } | null)?.orderId;
      const key = `${logicalId}:${String(orderId)}`;
      const crashes = this.stepCrashes.get(key) ?? 0;
      if (typeof orderId === 'string' && crashes < STEP_MAX_CRASHES && this.roll(stepCrashRate)) {
        this.stepCrashes.set(key, crashes + 1);
        return this.random() < 0.5 ? 'error' : 'crash';
      }
      return this.roll(duplicateRate) ? 'duplicate' : undefined;
    };
  }

  /** AWS's at-least-once EXPRESS start: maybe a second execution of the start, maybe a restart mid-run. */
  private expressRule(): ExpressFault[] {
    const { duplicateStartRate, restartRate } = this.profile;
    const faults: ExpressFault[] = [];
    if (this.roll(duplicateStartRate)) {
      faults.push({ kind: 'duplicate', afterMs: Math.floor(this.random() * DUPLICATE_START_WITHIN_MS) });
    }
    if (this.roll(restartRate)) {
      faults.push({
        kind: 'restart',
        afterMs: Math.floor(this.random() * RESTART_WITHIN_MS),
        keepOriginal: this.random() < 0.5,
      });
    }
    return faults;
  }

  private putEventsRule(entry: PutEventsEntryInput): { ErrorCode: string; ErrorMessage: string } | undefined {
    if (entry.Source !== EVENT_SOURCE || this.ourCopies.has(entry)) return undefined;
    const messageId = messageIdOf(entry);
    if (messageId === undefined) return undefined;
    const { relayFailureRate, relayMaxFailuresPerMessage, duplicateRate } = this.profile;
    const failures = this.relayFailures.get(messageId) ?? 0;
    if (failures < relayMaxFailuresPerMessage && this.roll(relayFailureRate)) {
      this.relayFailures.set(messageId, failures + 1);
      this.counters.putEventsFailures += 1;
      return { ErrorCode: 'InternalFailure', ErrorMessage: 'chaos: injected PutEvents entry failure' };
    }
    if (!this.duplicated.has(messageId) && this.roll(duplicateRate)) {
      this.duplicated.add(messageId);
      this.putAgainSoon(entry);
    }
    return undefined;
  }

  /** EventBridge delivers at least once: the same entry again, a moment later, as a second event. */
  private putAgainSoon(entry: PutEventsEntryInput): void {
    const events = this.system.runtime?.engines.events;
    if (!events) return;
    const copy = { ...entry };
    this.ourCopies.add(copy);
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.counters.busDuplicates += 1;
        void events.putEvents([copy]).catch(() => {
          // The bus refused the copy: then no duplicate happened, which the counters already do not claim.
          this.counters.busDuplicates -= 1;
        });
      },
      Math.floor(this.random() * 300),
    );
    this.timers.add(timer);
  }

  private async setSandboxFaults(faults: ChaosProfile['sandbox']): Promise<void> {
    const response = await authenticatedFetch(
      this.system.sandboxAuth,
      `${this.system.sandboxUrl}/v1/faults`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      },
    );
    if (!response.ok)
      throw new Error(`the sandbox refused the fault knobs: ${response.status} ${await response.text()}`);
  }
}
