import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '#shared/logger.ts';
import { type SqsRecordHandler, sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { context, sqsEvent, sqsRecord } from '../functions/helpers.ts';
import { captureStdout, type StdoutCapture } from '../support/emf.ts';

// The suite's setup silences logs (test/setup.ts); these tests read them. The level is the logger's from its first
// load (an invocation starts at it again), so it is set before the handler modules load.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

function worker(processRecord: SqsRecordHandler) {
  return lambdaChain<SQSEvent, SQSBatchResponse>().handler(sqsRecords(processRecord));
}

const eventBody = (correlationId: string) => JSON.stringify({ detail: { correlationId, orderId: 'o-1' } });

let out: StdoutCapture;
beforeEach(() => {
  logger.setLogLevel('INFO');
  out = captureStdout();
});
afterEach(() => {
  out.restore();
});

describe('sqsRecords', () => {
  it('answers a partial batch response: only the failed records go back to the queue', async () => {
    const handled: string[] = [];
    const handler = worker(async (record) => {
      if (record.messageId.startsWith('bad')) throw new Error(`cannot handle ${record.messageId}`);
      handled.push(record.messageId);
    });

    const result = await handler(
      sqsEvent(
        sqsRecord(eventBody('c-1'), 'ok-1'),
        sqsRecord(eventBody('c-2'), 'bad-1'),
        sqsRecord(eventBody('c-3'), 'ok-2'),
      ),
      context,
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad-1' }] });
    expect(handled.sort()).toEqual(['ok-1', 'ok-2']);
  });

  it('reports (does not throw) a batch whose every record failed, so Lambda retries exactly those', async () => {
    const handler = worker(async () => {
      throw new Error('down');
    });

    const result = await handler(sqsEvent(sqsRecord('x', 'm1'), sqsRecord('y', 'm2')), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
  });

  it("gives each record a logger with its own correlation id (EventBridge detail or the message's top level)", async () => {
    const handler = worker(async (record, log) => {
      log.info('handled', { messageId: record.messageId });
    });

    await handler(
      sqsEvent(
        sqsRecord(eventBody('c-event'), 'event'),
        sqsRecord(JSON.stringify({ correlationId: 'c-command' }), 'command'),
        sqsRecord('not json', 'opaque'),
      ),
      context,
    );
    logger.info('after the batch');

    const byMessage = Object.fromEntries(out.logs('handled').map((line) => [line.messageId, line]));
    expect(byMessage.event).toMatchObject({ correlationId: 'c-event', function_name: 'test-function' });
    expect(byMessage.command).toMatchObject({ correlationId: 'c-command' });
    expect(byMessage.opaque).not.toHaveProperty('correlationId');
    expect(out.logs('after the batch')[0]).not.toHaveProperty('correlationId');
  });

  it('logs a failed message with its id, receive count, correlation id and error', async () => {
    const handler = worker(async () => {
      throw Object.assign(new Error('mail sink down'), { name: 'MailUnavailable' });
    });

    await handler(sqsEvent(sqsRecord(eventBody('c-9'), 'm9')), context);

    expect(out.logs('message failed')).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        messageId: 'm9',
        receiveCount: '1',
        correlationId: 'c-9',
        error: expect.objectContaining({ name: 'MailUnavailable', message: 'mail sink down' }),
      }),
    ]);
  });
});
