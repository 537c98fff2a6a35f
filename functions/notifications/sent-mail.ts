import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { SENT_MAIL_KEY, SENT_MAIL_RETENTION_DAYS } from '#contracts/mail.ts';
import { epochSeconds, type TableDeps } from '#shared/dynamodb.ts';
import { EFFECT_RETENTION_SECONDS } from '#shared/effects.ts';
import { keys } from '#shared/table-keys.ts';
import type { MailRequest } from './mail-request.ts';

export interface SentMailDeps extends TableDeps {
  /** The mail service's own table of sent mail (lib/constructs/mail-service.ts). */
  sentMailTableName: string;
}

/** One sent mail as the sent-mail table keeps it. */
export interface SentMail {
  recipient: string;
  /** `<ISO time>#<requestId>`: newest first sorts by the time, the request id keeps two sends apart. */
  sentAt: string;
  requestId: string;
  source: MailRequest['source'];
  subject: string;
  requestedAt: string;
  orderId?: string;
  campaignId?: string;
  expiresAt: number;
}

export function sentMailItem(request: MailRequest, sentAt: Date): SentMail {
  return {
    [SENT_MAIL_KEY.partition]: request.mail.to,
    [SENT_MAIL_KEY.sort]: `${sentAt.toISOString()}#${request.requestId}`,
    requestId: request.requestId,
    source: request.source,
    subject: request.mail.subject,
    requestedAt: request.requestedAt,
    ...(request.orderId ? { orderId: request.orderId } : {}),
    ...(request.campaignId ? { campaignId: request.campaignId } : {}),
    expiresAt: epochSeconds(sentAt) + SENT_MAIL_RETENTION_DAYS * 24 * 60 * 60,
  } as SentMail;
}

/**
 * Records the sent mail and marks the request's effect done in one transaction across the two tables, on the claim
 * this sender still holds: a record exists exactly when the request is done, so a retry after a crash (which sends
 * again under the same idempotency key) never records the mail twice, and a sender whose claim was taken over
 * records nothing (its transaction is cancelled; the retry finds the other's DONE marker).
 */
export async function recordSent(
  deps: SentMailDeps,
  consumer: string,
  request: MailRequest,
  claimToken: string,
  sentAt: Date,
): Promise<void> {
  await deps.doc.send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: deps.sentMailTableName, Item: { ...sentMailItem(request, sentAt) } } },
        {
          Update: {
            TableName: deps.tableName,
            Key: keys.effect(consumer, request.requestId),
            UpdateExpression:
              'SET #status = :done, #at = :now, expiresAt = :expiresAt REMOVE leaseUntil, claimToken',
            ConditionExpression: 'claimToken = :token',
            ExpressionAttributeNames: { '#status': 'status', '#at': 'at' },
            ExpressionAttributeValues: {
              ':done': 'DONE',
              ':now': sentAt.toISOString(),
              ':expiresAt': epochSeconds(sentAt) + EFFECT_RETENTION_SECONDS,
              ':token': claimToken,
            },
          },
        },
      ],
    }),
  );
}

/** The mails sent to `recipient`, newest first: one Query on the partition, in descending sort key order. */
export async function mailsTo(
  deps: Pick<SentMailDeps, 'doc' | 'sentMailTableName'>,
  recipient: string,
  limit = 20,
): Promise<SentMail[]> {
  const { Items } = await deps.doc.send(
    new QueryCommand({
      TableName: deps.sentMailTableName,
      KeyConditionExpression: '#recipient = :recipient',
      ExpressionAttributeNames: { '#recipient': SENT_MAIL_KEY.partition },
      ExpressionAttributeValues: { ':recipient': recipient },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (Items ?? []) as SentMail[];
}
