/**
 * The mail sink down for a minute: mails wait behind the open mail circuit, none is dead-lettered, and every customer
 * gets exactly one once it is back. Helpers in outage-support.ts.
 */
import { describe, expect, it } from 'vitest';
import { queueDepth } from '#chaos/queues.ts';
import type { StatusReport } from '#ops/cli/status.ts';
import { buzzerJson } from './cli-support.ts';
import { freshSku, mailCount, until } from './fault-support.ts';
import { localSystem, queueNamed } from './local-faults.ts';
import {
  circuitOf,
  MAIL_OUTAGE_MS,
  OPEN_SECONDS,
  placeOrders,
  SCENARIO_TIMEOUT_MS,
  sleep,
  useOutage,
} from './outage-support.ts';

describe('the mail sink down', () => {
  const system = useOutage();

  it(
    'holds the mail while the sink is down, dead-letters none, and every customer gets exactly one once it is back',
    async () => {
      const sku = await freshSku(system.table, 100);
      const queues = await localSystem(system.target);
      await system.sandbox.setFaults({ mailBroken: true });
      const downAt = new Date();
      const ids = await placeOrders(system, 8, 300, sku);
      for (const id of ids) {
        expect((await system.alice.waitForOrder(id, undefined, 90_000)).status).toBe('CONFIRMED');
      }
      const circuit = await until(
        'the mail circuit to open',
        () => circuitOf(system, 'mail'),
        (found) => found?.state === 'OPEN' || found?.state === 'HALF_OPEN',
      );
      const runtime = system.target.runtime;
      if (!runtime) throw new Error('no local runtime');
      const status = await buzzerJson<StatusReport>(
        { ...runtime.info, clientEnvironment: runtime.clientEnvironment },
        'status',
      );
      // The sink stays down for a minute (a minute of this file's time): many intervals
      // with every message waiting; none is mailed twice when it comes back.
      await sleep(Math.max(5 * OPEN_SECONDS * 1000, downAt.getTime() + MAIL_OUTAGE_MS - Date.now()));
      const dlqWhileDown = await queueDepth(queues, queueNamed(queues, 'NotifierQueueDlq'));
      const mailedWhileDown = await Promise.all(ids.map((id) => mailCount(system.sandbox, id)));
      const upAt = new Date();
      await system.sandbox.setFaults({});

      for (const id of ids) {
        await until(
          `the mail of ${id}`,
          () => mailCount(system.sandbox, id),
          (count) => count.messages >= 1,
        );
      }
      // Let any straggling copy land before counting: exactly one mail each.
      await sleep(3 * OPEN_SECONDS * 1000);

      // Operators see the open circuit.
      expect(status.healthy).toBe(false);
      expect(status.circuits.find((c) => c.name === 'mail')).toMatchObject({
        state: expect.stringMatching(/^(OPEN|HALF_OPEN)$/),
        since: circuit?.since,
        lastError: expect.stringContaining('MailUnavailable'),
      });
      expect(status.circuits.find((c) => c.name === 'payment')).toMatchObject({ state: 'CLOSED' });
      expect(dlqWhileDown).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      expect(mailedWhileDown.map((count) => count.messages)).toEqual(ids.map(() => 0));
      for (const id of ids) expect((await mailCount(system.sandbox, id)).messages, id).toBe(1);
      expect(await queueDepth(queues, queueNamed(queues, 'NotifierQueueDlq'))).toEqual({
        visible: 0,
        inFlight: 0,
        delayed: 0,
      });
      const openedAt = Date.parse(String(circuit?.since));
      const sends = (await system.sandbox.calls(downAt, 'MAIL')).body.calls.filter(
        (call) => call.at <= upAt.toISOString(),
      );
      const probes = sends.filter((call) => Date.parse(call.at) > openedAt + 1000);
      const openFor = upAt.getTime() - openedAt;
      console.info(
        `mail: ${ids.length} customers during a ${Math.round((upAt.getTime() - downAt.getTime()) / 1000)} s outage; ` +
          `${sends.length} sends tried, ${probes.length} of them probes in ${Math.round(openFor / 1000)} s open; ` +
          `0 dead-lettered, ${ids.length} mails, one each`,
      );
      // A failure names each send's time and the circuit's log lines: a send that left before the circuit opened
      // and reached the sink late is told apart from a second probe admitted in one interval.
      expect(
        probes.length,
        `opened at ${circuit?.since}, sends at ${JSON.stringify(sends.map((call) => call.at))}\n` +
          system.target.recentLogs('NotifierHandler', 'MailSink').slice(-60).join('\n'),
      ).toBeLessThanOrEqual(Math.floor(openFor / (OPEN_SECONDS * 1000)) + 1);
      queues.close();
    },
    SCENARIO_TIMEOUT_MS,
  );
});
