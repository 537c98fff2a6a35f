/**
 * The payment provider down and back, with the saga as EXPRESS: held orders are parked on the saga-start queue and
 * started again, and the provider sees one probe per open interval. The times and helpers are in outage-support.ts.
 */
import { describe, expect, it } from 'vitest';
import { EXPRESS_CDK_OUT } from '#local/buzzer/synth.ts';
import { executionsPerOrder, outageThenRecovery, SCENARIO_TIMEOUT_MS, useOutage } from './outage-support.ts';

describe('the payment provider down (EXPRESS saga: held orders are parked on the saga-start queue)', () => {
  const system = useOutage({ cdkOut: EXPRESS_CDK_OUT });

  it(
    'holds every order while the provider is down and confirms every one once it is back, one probe per interval',
    async () => {
      const { ids } = await outageThenRecovery(system, 'EXPRESS');

      // Each held order ended its execution parked, and the start queue ran its saga again: two executions at least,
      // none left hanging past the 5 minutes AWS allows (every one has ended).
      const runs = executionsPerOrder(system, ids);
      console.info(
        `EXPRESS: executions per held order ${JSON.stringify(runs.map((statuses) => statuses.length))}`,
      );
      for (const statuses of runs) {
        expect(statuses.length).toBeGreaterThanOrEqual(2);
        expect(statuses.filter((status) => status !== 'SUCCEEDED')).toEqual([]);
      }
    },
    SCENARIO_TIMEOUT_MS,
  );
});
