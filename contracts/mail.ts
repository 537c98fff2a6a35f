/**
 * The mail services a stack can deploy (`-c mailService=…`) and the strings the burst mail service's constructs and
 * handlers share: its sent-mail table's key attributes, where its requests come from, and how long a sent mail is kept.
 */

/**
 * `notify`: the notify worker mails each order event (today's Buzzer, case 2 of issue 16). `burst`: a mail service
 * that many producers feed (the order events and operators' campaigns) through one request queue, sent in large
 * batches and recorded in a sent-mail table of its own (case 3).
 */
export const MAIL_SERVICES = ['notify', 'burst'] as const;
export type MailServiceName = (typeof MAIL_SERVICES)[number];
export const DEFAULT_MAIL_SERVICE: MailServiceName = 'notify';

/** Who asked for a mail: the order flow (an OrderConfirmed / OrderCancelled event) or a campaign. */
export const MAIL_REQUEST_SOURCES = ['order', 'campaign'] as const;
export type MailRequestSource = (typeof MAIL_REQUEST_SOURCES)[number];

/**
 * The sent-mail table: partition key the recipient's address, sort key `<sent at, ISO 8601>#<request id>`, so "the
 * mails to X, newest first" is one Query (ScanIndexForward false) and two mails sent in the same millisecond differ.
 */
export const SENT_MAIL_KEY = { partition: 'recipient', sort: 'sentAt' } as const;

/** A sent-mail record expires (TTL `expiresAt`) this long after the send: it holds an address and a subject. */
export const SENT_MAIL_RETENTION_DAYS = 400;

/** The idempotency marker (`EFFECT#mail#<request id>`) and held-copy ticket (`HOLD#mail#<request id>`) of the sender. */
export const MAIL_SENDER_CONSUMER = 'mail';

/** The most recipients one campaign invocation enqueues (its SendMessageBatch calls fit well in its timeout). */
export const MAX_CAMPAIGN_RECIPIENTS = 10_000;

/**
 * Mails one sender invocation has in flight at once (its batch waits its turn): a batch of 100 sent all at once
 * queues at the transport, past its time-out, and the failures would open the mail circuit on a healthy transport.
 */
export const DEFAULT_MAIL_SEND_CONCURRENCY = 8;
