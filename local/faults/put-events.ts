/**
 * Failed PutEvents entries, injected (a local-only test and chaos tool): a wrapper around `EventBridgeEngine.putEvents`
 * that answers chosen entries with an error code, as AWS reports a failed entry in a partly successful PutEvents,
 * and hands the others to the engine. Every publisher meets it: the functions through the gateway, the Step Functions
 * `events:putEvents` integration, tests.
 */
import type { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import type { PutEventsEntryInput, PutEventsOutput } from '#local/engines/stepfunctions/types.ts';
import { type Decoration, decorate } from './decorate.ts';
import { onePerEngine } from './one-per-engine.ts';

/** Chooses whether entry `index` of a PutEvents request fails, and with what error. */
export type PutEventsFault = (
  entry: PutEventsEntryInput,
  index: number,
) => { ErrorCode: string; ErrorMessage: string } | undefined;

const installed = new WeakMap<EventBridgeEngine, PutEventsFaults>();

export class PutEventsFaults {
  private readonly events: EventBridgeEngine;
  private decoration: Decoration | undefined;

  /** The fault injector of `events`: one per engine, so a fault set by one caller is removed by another. */
  static of(events: EventBridgeEngine): PutEventsFaults {
    return onePerEngine(installed, events, (engine) => new PutEventsFaults(engine));
  }

  private constructor(events: EventBridgeEngine) {
    this.events = events;
  }

  /** From now on every PutEvents entry asks `fault` first; `undefined` removes the fault. */
  setFault(fault: PutEventsFault | undefined): void {
    this.decoration?.remove();
    this.decoration = undefined;
    if (!fault) return;
    const events = this.events;
    this.decoration = decorate(events, 'putEvents', (putEvents) => async (entries) => {
      // A request AWS refuses as a whole is refused before any entry could fail.
      events.checkRequest(entries);
      const failures = entries.map((entry, index) => fault(entry, index));
      const passed = entries.filter((_, index) => failures[index] === undefined);
      const put: PutEventsOutput =
        passed.length > 0 ? await putEvents(passed) : { FailedEntryCount: 0, Entries: [] };
      const results = put.Entries[Symbol.iterator]();
      const merged = failures.map((failure) => failure ?? results.next().value ?? {});
      return {
        FailedEntryCount: merged.filter((result) => 'ErrorCode' in result).length,
        Entries: merged,
      };
    });
  }
}
