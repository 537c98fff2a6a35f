/**
 * The payment provider down and back, with the saga as STANDARD: held orders wait inside their executions, and the
 * provider sees one probe per open interval. The times and helpers are in outage-support.ts.
 */
import { describe, expect, it } from 'vitest';
import { executionsPerOrder, outageThenRecovery, SCENARIO_TIMEOUT_MS, useOutage } from './outage-support.ts';

describe('the payment provider down (STANDARD saga: held orders wait inside their executions)', () => {
  const system = useOutage();

  it(
    'holds every order while the provider is down and confirms every one once it is back, one probe per interval',
    async () => {
      const { ids } = await outageThenRecovery(system, 'STANDARD');

      // Each order waited inside its one execution.
      expect(executionsPerOrder(system, ids)).toEqual(ids.map(() => ['SUCCEEDED']));
    },
    SCENARIO_TIMEOUT_MS,
  );
});
