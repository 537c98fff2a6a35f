/**
 * `buzzer webhooks`: a client's webhook endpoints with their latest delivery attempts, and replaying an endpoint's
 * FAILED deliveries. The replay is the client API's `POST /webhooks/{id}/enable` (functions/webhooks/replay.ts), run
 * by an operator for the client: it enables the endpoint and queues a replay of each FAILED delivery.
 */
import type { Command } from 'commander';
import { CLIENT_ID_PATTERN } from '#functions/clients/api-keys.ts';
import { type AttemptView, listAttempts, listFailedDeliveries } from '#functions/webhooks/deliveries.ts';
import { listWebhooks, WebhookNotFound, type WebhookView } from '#functions/webhooks/endpoints.ts';
import { enableAndReplay, MAX_REPLAY_PER_CALL, type ReplayResult } from '#functions/webhooks/replay.ts';
import { OperatorError, type OpsContext, resolveQueue } from './context.ts';
import { table } from './format.ts';
import { redact } from './redact.ts';
import type { CommandRunner } from './runner.ts';

export interface WebhookEndpointRow extends WebhookView {
  /** FAILED deliveries waiting for a replay (counted up to the replay batch). */
  failedDeliveries: number;
  /** The latest attempts, newest first. */
  attempts: AttemptView[];
}

export interface WebhooksResult {
  clientId: string;
  endpoints: WebhookEndpointRow[];
}

function clientIdOf(value: string): string {
  if (!CLIENT_ID_PATTERN.test(value)) throw new OperatorError(`"${value}" is not a client id`);
  return value;
}

export async function webhookEndpoints(
  ctx: OpsContext,
  clientId: string,
  options: { attempts?: number } = {},
): Promise<WebhooksResult> {
  const deps = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
  const endpoints = await listWebhooks(deps, clientIdOf(clientId));
  return {
    clientId,
    endpoints: await Promise.all(
      endpoints.map(async (endpoint) => {
        const [{ attempts }, failed] = await Promise.all([
          listAttempts(deps, endpoint.webhookId, { limit: options.attempts ?? 10 }),
          listFailedDeliveries(deps, endpoint.webhookId, MAX_REPLAY_PER_CALL),
        ]);
        // A URL may carry its secret in the path or query: shown redacted, as everywhere in the CLI.
        const { url } = redact({ url: endpoint.url }) as { url: string };
        return { ...endpoint, url, failedDeliveries: failed.length, attempts };
      }),
    ),
  };
}

export async function replayWebhook(
  ctx: OpsContext,
  clientId: string,
  webhookId: string,
): Promise<ReplayResult & { clientId: string; webhookId: string }> {
  const source = resolveQueue(ctx.target, 'webhooks-delivery').source;
  if (!source) throw new OperatorError('the stack names no webhook delivery queue');
  try {
    const result = await enableAndReplay(
      {
        doc: ctx.clients.doc,
        tableName: ctx.target.tableName,
        queue: { sqs: ctx.clients.sqs, queueUrl: source.url },
      },
      clientIdOf(clientId),
      webhookId,
    );
    return { clientId, webhookId, ...result };
  } catch (error) {
    if (error instanceof WebhookNotFound)
      throw new OperatorError(`client ${clientId} has no webhook ${webhookId}`);
    throw error;
  }
}

function renderEndpoints(result: WebhooksResult): string {
  return result.endpoints
    .map(
      (e) =>
        `webhook ${e.webhookId}  ${e.status}${e.disabledReason ? ` (${e.disabledReason})` : ''}  ${e.url}\n` +
        `  events ${e.events.join(', ')}  FAILED deliveries ${e.failedDeliveries}\n` +
        table(
          ['at', 'event', 'order', 'attempt', 'outcome', 'status', 'error'],
          e.attempts.map((a) => [a.at, a.eventType, a.orderId, a.attempt, a.outcome, a.statusCode, a.error]),
        ),
    )
    .join('\n')
    .concat(result.endpoints.length === 0 ? `client ${result.clientId} has no webhook endpoints\n` : '');
}

export function registerWebhookCommands(program: Command, run: CommandRunner): void {
  const webhooks = program
    .command('webhooks')
    .description('A client’s webhook endpoints, their delivery attempts, and replaying FAILED deliveries');
  webhooks
    .command('list')
    .description('The client’s endpoints with their latest attempts and FAILED deliveries')
    .argument('<client>', 'client id')
    .option('-n, --attempts <count>', 'attempts to show per endpoint', '10')
    .action((client: string, options: { attempts: string }, command: Command) =>
      run(
        command,
        (ctx) =>
          webhookEndpoints(ctx, client, {
            attempts: Math.max(1, Number.parseInt(options.attempts, 10) || 10),
          }),
        renderEndpoints,
      ),
    );
  webhooks
    .command('replay')
    .description(
      'Enable the endpoint and replay its FAILED deliveries (what POST /webhooks/{id}/enable does)',
    )
    .argument('<client>', 'client id')
    .argument('<webhookId>', 'the endpoint')
    .action((client: string, webhookId: string, _options: unknown, command: Command) =>
      run(
        command,
        (ctx) => replayWebhook(ctx, client, webhookId),
        (r) =>
          `webhook ${r.webhookId} enabled; ${r.replayed} FAILED deliveries queued for replay${r.more ? ' (more wait: run again)' : ''}\n`,
      ),
    );
}
