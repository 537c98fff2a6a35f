/**
 * An operator's campaign: one mail request per recipient on the burst mail service's request queue. Shared by its
 * Lambda (`start-campaign.ts`) and the operator CLI (`buzzer mail campaign`), which enqueue alike.
 */
import { randomUUID } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { MAX_CAMPAIGN_RECIPIENTS } from '#contracts/mail.ts';
import { namedError } from '#shared/named-error.ts';
import * as z from '#shared/zod.ts';
import { type CampaignMailRequest, campaignIdSchema } from './mail-request.ts';

/** The invocation asked for something this function cannot do (the message says what); nothing was enqueued. */
export class InvalidCampaign extends namedError('InvalidCampaign') {}

/** SendMessageBatch failed for some entries even after one retry of them; the ones before it are enqueued. */
export class CampaignEnqueueFailed extends namedError('CampaignEnqueueFailed') {}

/**
 * An operator's campaign: `recipients` (addresses) or `count` (that many synthetic `<campaignId>-<n>@…` addresses at
 * `syntheticDomain`, a reserved domain by default: load tests with the sandbox mail sink, never real mail).
 */
export const campaignInputSchema = z.strictObject({
  campaignId: campaignIdSchema.optional(),
  subject: z.string().min(1).max(200).optional(),
  text: z.string().min(1).max(20_000).optional(),
  recipients: z.array(z.email()).min(1).max(MAX_CAMPAIGN_RECIPIENTS).optional(),
  count: z.number().int().min(1).max(MAX_CAMPAIGN_RECIPIENTS).optional(),
  syntheticDomain: z
    .string()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/)
    .optional(),
});
export type CampaignInput = z.infer<typeof campaignInputSchema>;

export interface CampaignResult {
  campaignId: string;
  enqueued: number;
}

/** SQS takes at most 10 messages a SendMessageBatch. */
const BATCH = 10;
/** SendMessageBatch calls in flight at once: 1,000 mails enqueue in about ten round trips. */
const PARALLEL = 10;

export interface CampaignDeps {
  sqs: SQSClient;
  queueUrl: string;
}

/** The mail requests of one campaign, one per recipient, each with a request id of its own. */
export function campaignRequests(input: CampaignInput, now = new Date()): CampaignMailRequest[] {
  if ((input.recipients === undefined) === (input.count === undefined)) {
    throw new InvalidCampaign('give either recipients (a list of addresses) or count (synthetic addresses)');
  }
  const campaignId = input.campaignId ?? `c-${randomUUID().slice(0, 8)}`;
  const domain = input.syntheticDomain ?? 'campaign.example';
  const recipients =
    input.recipients ??
    Array.from({ length: input.count ?? 0 }, (_, i) => `${campaignId}-${i + 1}@${domain}`);
  const requestedAt = now.toISOString();
  return recipients.map((to, i) => ({
    kind: 'campaign',
    requestId: `${campaignId}-${i + 1}`,
    campaignId,
    to,
    subject: input.subject ?? 'News from Buzzer',
    text: input.text ?? 'Hello,\n\nthis week at Buzzer: two espressos for the price of one.\n',
    requestedAt,
  }));
}

async function sendBatch(deps: CampaignDeps, entries: SendMessageBatchRequestEntry[]): Promise<void> {
  let pending = entries;
  for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
    const { Failed } = await deps.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: deps.queueUrl, Entries: pending }),
    );
    const failed = new Set((Failed ?? []).map((f) => f.Id));
    pending = pending.filter((entry) => failed.has(entry.Id));
  }
  if (pending.length > 0) {
    throw new CampaignEnqueueFailed(
      `SQS refused ${pending.length} mail requests twice (${pending.map((e) => e.Id).join(', ')})`,
    );
  }
}

/** Enqueues one request per recipient with SendMessageBatch; a retried invocation enqueues duplicates the sender drops. */
export async function startCampaign(
  deps: CampaignDeps,
  input: unknown,
  now = new Date(),
): Promise<CampaignResult> {
  const parsed = campaignInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidCampaign(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`).join('; '),
    );
  }
  const requests = campaignRequests(parsed.data, now);
  const batches: SendMessageBatchRequestEntry[][] = [];
  for (let i = 0; i < requests.length; i += BATCH) {
    batches.push(
      requests
        .slice(i, i + BATCH)
        .map((request, j) => ({ Id: String(j), MessageBody: JSON.stringify(request) })),
    );
  }
  for (let i = 0; i < batches.length; i += PARALLEL) {
    await Promise.all(batches.slice(i, i + PARALLEL).map((batch) => sendBatch(deps, batch)));
  }
  const campaignId = requests[0]?.campaignId ?? '';
  return { campaignId, enqueued: requests.length };
}
