/** `buzzer status`: the circuit breakers, read from the table and shown next to the DLQs. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import { circuitStatuses, renderStatus, type StatusReport } from '#ops/cli/status.ts';
import { sentInput } from '../functions/helpers.ts';
import { opsContext } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

beforeEach(() => {
  ddb.reset();
});

describe('buzzer status: circuit breakers', () => {
  it('reads every breaker of the contract, a breaker that never failed as closed', async () => {
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({
      Item: {
        ...breakerKey('payment'),
        state: 'OPEN',
        version: 4,
        failures: 7,
        since: '2026-12-06T10:00:00.000Z',
        openUntil: Date.parse('2026-12-06T10:05:30.000Z'),
        lastFailureAt: '2026-12-06T10:05:00.000Z',
        lastError: 'PaymentProviderUnavailable: charge failed with HTTP 503',
      },
    });
    ddb.on(GetCommand, { Key: breakerKey('mail') }).resolves({});

    const circuits = await circuitStatuses(opsContext({ doc }));

    expect(circuits).toEqual([
      {
        name: 'payment',
        state: 'OPEN',
        failures: 7,
        since: '2026-12-06T10:00:00.000Z',
        nextProbeAt: '2026-12-06T10:05:30.000Z',
        lastFailureAt: '2026-12-06T10:05:00.000Z',
        lastError: 'PaymentProviderUnavailable: charge failed with HTTP 503',
      },
      {
        name: 'mail',
        state: 'CLOSED',
        failures: 0,
        since: null,
        nextProbeAt: null,
        lastFailureAt: null,
        lastError: null,
      },
    ]);
    expect(sentInput(ddb, GetCommand)).toMatchObject({
      TableName: 'Buzzer-Table',
      ConsistentRead: true,
    });
  });

  it('shows each circuit with its state, streak, outage start and next probe', () => {
    const report: StatusReport = {
      generatedAt: '2026-12-06T10:05:10.000Z',
      target: { kind: 'local', stackName: 'Buzzer', region: 'us-east-1' },
      healthy: false,
      dlqs: [],
      workQueues: { queues: [] },
      circuits: [
        {
          name: 'payment',
          state: 'OPEN',
          failures: 7,
          since: '2026-12-06T10:00:00.000Z',
          nextProbeAt: '2026-12-06T10:05:30.000Z',
          lastFailureAt: '2026-12-06T10:05:00.000Z',
          lastError: 'HTTP 503',
        },
        {
          name: 'mail',
          state: 'CLOSED',
          failures: 0,
          since: null,
          nextProbeAt: null,
          lastFailureAt: null,
          lastError: null,
        },
      ],
      saga: { workflowType: 'STANDARD', failed: [], stuck: [] },
      outbox: { relayDlqDepth: 0, failed: [] },
      orders: { olderThanSeconds: 300, stuck: [] },
      metrics: { summary: null },
    };

    const text = renderStatus(report);

    expect(text).toContain('Circuit breakers (OPEN: calls held, orders and mail wait)');
    expect(text).toMatch(
      /payment +OPEN +7 +2026-12-06T10:00:00\.000Z +2026-12-06T10:05:30\.000Z +2026-12-06T10:05:00\.000Z HTTP 503/,
    );
    expect(text).toMatch(/mail +CLOSED +0 +- +- +-/);
  });
});
