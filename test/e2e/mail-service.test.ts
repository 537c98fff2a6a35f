/**
 * The burst mail service (`-c mailService=burst`) through the whole system: an order's mail comes through the mail
 * request queue and is recorded once in the sent-mail table; an operator's campaign, started twice under the same id
 * (a retried invocation), mails each recipient once. Local target only: it runs the variant's own synthesis.
 *
 * The variant is synthesized here, not in the e2e global setup: the bench's burst section uses the same directory
 * and context, so the synth stamp (local/synth.ts) makes it a no-op whenever either has run since the last change
 * to bin/, lib/ or functions/, and the suite's other files never wait for it.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, type SentMail } from '#functions/notifications/sent-mail.ts';
import { MAILBURST_CDK_OUT, MAILBURST_CONTEXT, synthesizeBuzzer } from '#local/buzzer/synth.ts';
import { consoleLogger } from '#local/logging.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { startTarget, type Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let target: Target;
let alice: ApiClient;
let sandbox: SandboxClient;

function runtime() {
  if (!target.runtime) throw new Error('mail-service.test.ts runs on the local target only');
  return target.runtime;
}

const functionNamed = (prefix: string) =>
  Object.entries(runtime().info.functions).find(([logicalId]) => logicalId.startsWith(prefix))?.[1];

const sentMail = () => {
  const tableName = runtime().info.outputs.SentMailTableName;
  if (typeof tableName !== 'string') throw new Error('the burst variant has no SentMailTableName output');
  return { doc: runtime().clients.doc, sentMailTableName: tableName };
};

/** Every sent-mail record of a campaign (a scan: the test counts them all; the service itself reads by recipient). */
async function campaignRecords(campaignId: string): Promise<SentMail[]> {
  const { doc, sentMailTableName } = sentMail();
  const items: SentMail[] = [];
  for await (const page of paginateScan(
    { client: doc },
    {
      TableName: sentMailTableName,
      FilterExpression: 'campaignId = :campaign',
      ExpressionAttributeValues: { ':campaign': campaignId },
      ConsistentRead: true,
    },
  )) {
    items.push(...((page.Items ?? []) as SentMail[]));
  }
  return items;
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  await synthesizeBuzzer({
    projectRoot: PROJECT_ROOT,
    outdir: path.join(PROJECT_ROOT, MAILBURST_CDK_OUT),
    context: { ...MAILBURST_CONTEXT },
    logger: consoleLogger('warn'),
  });
  target = await startTarget({ cdkOut: MAILBURST_CDK_OUT });
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
}, 240_000);

afterAll(async () => {
  await target?.stop();
});

describe('burst mail service (mailService=burst)', () => {
  it('runs instead of the notify worker', () => {
    expect(functionNamed('MailSender')).toBeDefined();
    expect(functionNamed('MailStartCampaign')).toBeDefined();
    expect(functionNamed('Notifier')).toBeUndefined();
  });

  it("records a confirmed order's mail once in the sent-mail table, newest first for its customer", async () => {
    const email = `mail-${Date.now()}@example.com`;
    const body = orderBody();
    const placed = await alice.placeOrder({ ...body, customer: { ...body.customer, email } });
    expect(placed.status).toBe(202);
    const order = await alice.waitForOrder(placed.body.trackingId);
    expect(order.status).toBe('CONFIRMED');

    const mails = await eventually(
      () => mailsTo(sentMail(), email),
      (found) => found.length > 0,
    );
    expect(mails).toEqual([
      expect.objectContaining({
        recipient: email,
        source: 'order',
        orderId: placed.body.trackingId,
        subject: 'Your order is confirmed',
      }),
    ]);
    const sink = await sandbox.mailFor(placed.body.trackingId);
    expect(sink.body.messages).toHaveLength(1);
  });

  it('sends each recipient of a campaign one mail, though the operator started it twice', async () => {
    const campaignId = `e2e-${Date.now().toString(36)}`;
    const campaign = functionNamed('MailStartCampaign') ?? '';
    const [first, again] = await Promise.all([
      runtime().engines.lambda.invoke(campaign, { campaignId, count: 50 }),
      runtime().engines.lambda.invoke(campaign, { campaignId, count: 50 }),
    ]);
    expect(first.payload).toEqual({ campaignId, enqueued: 50 });
    expect(again.payload).toEqual({ campaignId, enqueued: 50 });

    const records = await eventually(
      () => campaignRecords(campaignId),
      (found) => found.length >= 50,
    );
    // The copies of each request arrive in other batches or the same one; give a late duplicate time to show.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const settled = await campaignRecords(campaignId);
    expect(records.length).toBe(50);
    expect(settled.length).toBe(50);
    expect(new Set(settled.map((r) => r.recipient)).size).toBe(50);
    expect(new Set(settled.map((r) => r.requestId)).size).toBe(50);
  });
});
