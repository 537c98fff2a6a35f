/**
 * Where a lost order stopped: its item as stored, its recovery record and every execution of its saga, read before
 * the run's runtime stops. A failed run is often a rare interleaving that the next run with the same seed does not
 * repeat, so the report must carry what is needed to explain it (the executions of an EXPRESS saga exist only in the
 * runtime's memory).
 */
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { getRecoveryRecord } from '#functions/operations/recovery.ts';
import { getOrder } from '#functions/orders/order-store.ts';
import { executionName } from '#functions/saga/starter.ts';
import { executionPages } from '#ops/cli/executions.ts';
import type { SystemUnderTest } from './system.ts';

export interface ExecutionTrail {
  name: string;
  status: string;
  startDate?: string;
  stopDate?: string;
  /** The last events of its history, oldest first (`type state: error`). */
  lastEvents: string[];
}

export interface OrderTrail {
  orderId: string;
  /** Status and the dates of the saga's milestones on the order item, or why there is none. */
  order: string;
  timeline: string[];
  recovery: string;
  executions: ExecutionTrail[];
}

/** Events of each execution's history the trail keeps: enough to see the state it stopped in and why. */
const LAST_EVENTS = 6;

async function lastEvents(system: SystemUnderTest, executionArn: string): Promise<string[]> {
  try {
    const { events = [] } = await system.sfn.send(
      new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: LAST_EVENTS }),
    );
    return events.reverse().map((event) => {
      const state = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name ?? undefined;
      const failure =
        event.executionFailedEventDetails ??
        event.executionAbortedEventDetails ??
        event.taskFailedEventDetails ??
        event.lambdaFunctionFailedEventDetails;
      return [event.type, state, failure?.error && `: ${failure.error}`].filter(Boolean).join(' ');
    });
  } catch (error) {
    // AWS keeps no history of EXPRESS executions behind this API: the trail says so rather than failing the report.
    return [`history unavailable: ${error instanceof Error ? error.message : String(error)}`];
  }
}

export async function traceOrders(
  system: SystemUnderTest,
  orderIds: readonly string[],
): Promise<OrderTrail[]> {
  if (orderIds.length === 0) return [];
  const byName = new Map(orderIds.map((id) => [executionName(id), id]));
  const executions = new Map<string, Array<{ arn: string; trail: Omit<ExecutionTrail, 'lastEvents'> }>>();
  for (const stateMachineArn of Object.values(system.stateMachines)) {
    for await (const page of executionPages(system.sfn, { stateMachineArn, maxResults: 1000 })) {
      for (const { name, status, executionArn, startDate, stopDate } of page) {
        const orderId = byName.get((name ?? '').replace(/-r\d+$/, ''));
        if (!orderId || !name || !executionArn) continue;
        const list = executions.get(orderId) ?? [];
        list.push({
          arn: executionArn,
          trail: {
            name,
            status: status ?? 'UNKNOWN',
            ...(startDate ? { startDate: startDate.toISOString() } : {}),
            ...(stopDate ? { stopDate: stopDate.toISOString() } : {}),
          },
        });
        executions.set(orderId, list);
      }
    }
  }
  const deps = { doc: system.doc, tableName: system.tableName };
  return Promise.all(
    orderIds.map(async (orderId) => {
      const order = await getOrder(deps, orderId);
      const recovery = await getRecoveryRecord(deps, orderId);
      const runs = (executions.get(orderId) ?? []).sort((a, b) =>
        (a.trail.startDate ?? '').localeCompare(b.trail.startDate ?? ''),
      );
      return {
        orderId,
        order: order
          ? Object.entries({
              status: order.status,
              version: order.version,
              reservedAt: order.reservedAt,
              chargeAttemptedAt: order.chargeAttemptedAt,
              authorizedAt: order.authorizedAt,
              compensatingAt: order.compensatingAt,
              paymentVoidedAt: order.paymentVoidedAt,
              stockReleasedAt: order.stockReleasedAt,
            })
              .filter(([, value]) => value !== undefined)
              .map(([key, value]) => `${key} ${value}`)
              .join(', ')
          : 'no order item',
        timeline:
          order?.timeline.map((e) => `${e.at} ${e.step} ${e.status}${e.detail ? ` (${e.detail})` : ''}`) ??
          [],
        recovery:
          recovery.attempts === 0
            ? 'no recovery attempts'
            : `${recovery.attempts} attempts, last ${recovery.lastAction}: ${recovery.lastReason}`,
        executions: await Promise.all(
          runs.map(async ({ arn, trail }) => ({ ...trail, lastEvents: await lastEvents(system, arn) })),
        ),
      };
    }),
  );
}

/** The trails as report lines. */
export function formatTrails(trails: readonly OrderTrail[]): string[] {
  const lines: string[] = [];
  for (const trail of trails) {
    lines.push(`  ${trail.orderId}: ${trail.order}; ${trail.recovery}`);
    for (const entry of trail.timeline) lines.push(`    timeline  ${entry}`);
    if (trail.executions.length === 0) lines.push('    no execution of its saga');
    for (const execution of trail.executions) {
      lines.push(
        `    execution ${execution.name} ${execution.status} ${execution.startDate ?? '?'} → ${execution.stopDate ?? '…'}`,
      );
      for (const event of execution.lastEvents) lines.push(`      ${event}`);
    }
  }
  return lines;
}
