/**
 * `buzzer mail campaign`: an operator's campaign on the burst mail service (`-c mailService=burst`), enqueued from
 * here with the same code as its Lambda (functions/notifications/campaign.ts): one mail request per recipient on the
 * bulk lane's queue (the source queue of the `mail-bulk` DLQ alias), SendMessageBatch, 10 a call.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { MAX_CAMPAIGN_RECIPIENTS } from '#contracts/mail.ts';
import { type CampaignResult, InvalidCampaign, startCampaign } from '#functions/notifications/campaign.ts';
import { OperatorError, type OpsContext } from './context.ts';
import type { CommandRunner } from './runner.ts';

/** The bulk lane's DLQ alias (derived from `Mail/BulkQueue`, lib/constructs/operations.ts). */
export const MAIL_BULK_ALIAS = 'mail-bulk';

export interface CampaignOptions {
  recipients?: number;
  to?: string[];
  campaignId?: string;
  subject?: string;
  text?: string;
}

export async function startMailCampaign(ctx: OpsContext, options: CampaignOptions): Promise<CampaignResult> {
  const queue = ctx.target.queues.find((q) => q.alias === MAIL_BULK_ALIAS)?.source;
  if (!queue) {
    throw new OperatorError(
      'this stack has no bulk mail queue: campaigns need the burst mail service (deploy or start it with ' +
        '-c mailService=burst)',
    );
  }
  try {
    const result = await startCampaign(
      { sqs: ctx.clients.sqs, queueUrl: queue.url },
      {
        ...(options.campaignId ? { campaignId: options.campaignId } : {}),
        ...(options.subject ? { subject: options.subject } : {}),
        ...(options.text ? { text: options.text } : {}),
        ...(options.to ? { recipients: options.to } : {}),
        ...(options.recipients !== undefined ? { count: options.recipients } : {}),
      },
    );
    ctx.progress(`enqueued ${result.enqueued} mail requests on ${queue.logicalId}`);
    return result;
  } catch (error) {
    if (error instanceof InvalidCampaign) throw new OperatorError(`campaign: ${error.message}`);
    throw error;
  }
}

const recipientCount = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CAMPAIGN_RECIPIENTS) {
    throw new InvalidArgumentError(`a whole number from 1 to ${MAX_CAMPAIGN_RECIPIENTS}`);
  }
  return n;
};

export function registerMailCommands(program: Command, run: CommandRunner): void {
  const mail = program.command('mail').description('The burst mail service (-c mailService=burst)');
  mail
    .command('campaign')
    .description(
      "Enqueue a marketing campaign: one mail request per recipient on the mail service's bulk lane",
    )
    .option(
      '--recipients <n>',
      'that many synthetic recipients (<campaign id>-<n>@campaign.example: load tests with the sandbox sink)',
      recipientCount,
    )
    .option('--to <addresses>', 'comma-separated recipient addresses', (value: string) => value.split(','))
    .option(
      '--campaign-id <id>',
      'lower-case letters, digits and -; the same id again sends nobody a second mail',
    )
    .option('--subject <text>', 'subject line')
    .option('--text <text>', 'body text')
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer mail campaign --recipients 1000\n' +
        '  buzzer mail campaign --campaign-id spring --to ada@example.com,bob@example.com --subject Spring\n',
    )
    .action((options: CampaignOptions, command: Command) =>
      run(
        command,
        (ctx) => startMailCampaign(ctx, options),
        (result) => `campaign ${result.campaignId}: ${result.enqueued} mail requests enqueued\n`,
      ),
    );
}
