/**
 * Fault injection around a running local system (tests and `npm run chaos`): wrappers installed around the engines,
 * never code inside them. Lambda invocation faults and failed PutEvents entries here; EXPRESS duplicate starts and
 * restarts in `./express.ts`.
 */
import type { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import type { LambdaService } from '#local/engines/lambda/service.ts';
import { LambdaFaults } from './lambda.ts';
import { PutEventsFaults } from './put-events.ts';

export type { InjectedFaultCounts, InvocationFault, InvocationFaultRule } from './lambda.ts';
export type { PutEventsFault } from './put-events.ts';
export { LambdaFaults, PutEventsFaults };

/** The fault injectors of a runtime's engines (the same ones every time for the same runtime). */
export function faultsOf(runtime: { engines: { lambda: LambdaService; events: EventBridgeEngine } }): {
  lambda: LambdaFaults;
  putEvents: PutEventsFaults;
} {
  return {
    lambda: LambdaFaults.of(runtime.engines.lambda),
    putEvents: PutEventsFaults.of(runtime.engines.events),
  };
}
