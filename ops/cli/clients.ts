/** `buzzer clients limits`: a client's own request limits (rate and burst), or back to the stack's defaults. */
import type { Command } from 'commander';
import { CLIENT_ID_PATTERN, InvalidClientId } from '#functions/clients/api-keys.ts';
import {
  checkLimits,
  clearClientLimits,
  findClientLimits,
  InvalidClientLimits,
  setClientLimits,
} from '#functions/clients/limits.ts';
import { OperatorError, type OpsContext } from './context.ts';
import type { CommandRunner } from './runner.ts';

export interface ClientLimitsView {
  clientId: string;
  /** `own`: the client's item; `default`: the stack's `clientRateLimit` / `clientBurstLimit` apply. */
  source: 'own' | 'default';
  rateLimit?: number;
  burstLimit?: number;
  updatedAt?: string;
}

export interface LimitsOptions {
  rate?: number;
  burst?: number;
  /** Drop the client's own limits: the stack's defaults apply again. */
  default?: boolean;
}

const deps = (ctx: OpsContext) => ({ doc: ctx.clients.doc, tableName: ctx.target.tableName });

function parseNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new OperatorError(`"${value}" is not a number`);
  return parsed;
}

/** Shows, sets or clears a client's limits. Setting needs both: a rate without a burst is half a bucket. */
export async function clientLimits(
  ctx: OpsContext,
  clientId: string,
  options: LimitsOptions = {},
  now = new Date(),
): Promise<ClientLimitsView> {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  const setting = options.rate !== undefined || options.burst !== undefined;
  if (options.default && setting) throw new OperatorError('--default takes no --rate or --burst');
  if (options.default) {
    await clearClientLimits(deps(ctx), clientId);
    return { clientId, source: 'default' };
  }
  if (setting) {
    if (options.rate === undefined || options.burst === undefined) {
      throw new OperatorError(
        'give both --rate and --burst (a token bucket needs its size and its refill rate)',
      );
    }
    try {
      checkLimits({ rateLimit: options.rate, burstLimit: options.burst });
    } catch (error) {
      if (error instanceof InvalidClientLimits) throw new OperatorError(error.message);
      throw error;
    }
    const item = await setClientLimits(
      deps(ctx),
      clientId,
      { rateLimit: options.rate, burstLimit: options.burst },
      now,
    );
    return { source: 'own', ...item };
  }
  const own = await findClientLimits(ctx.clients.doc, ctx.target.tableName, clientId);
  return own ? { clientId, source: 'own', ...own } : { clientId, source: 'default' };
}

const APPLIES =
  "A change applies within 60 s (API Gateway caches the authorizer's answer, which carries the limits, that long).";

function render(view: ClientLimitsView): string {
  if (view.source === 'default') {
    return `client "${view.clientId}": the stack's default limits (-c clientRateLimit / -c clientBurstLimit)\n`;
  }
  return (
    `client "${view.clientId}": ${view.rateLimit} requests a second, bursts of ${view.burstLimit}` +
    (view.updatedAt ? ` (set ${view.updatedAt})` : '') +
    '\n'
  );
}

export function registerClientCommands(program: Command, run: CommandRunner): void {
  const clients = program.command('clients').description("API clients: each client's request limits");
  clients
    .command('limits')
    .description("Show a client's request limits, give it its own, or put it back on the stack's defaults")
    .argument('<clientId>', 'the client')
    .option('--rate <n>', 'requests a second on average (decimals allowed, e.g. 0.5)', parseNumber)
    .option('--burst <n>', 'requests at once (the bucket size)', parseNumber)
    .option('--default', "drop the client's own limits: the stack's defaults apply")
    .addHelpText(
      'after',
      `\n${APPLIES}\nOver its limits a client gets 429 with Retry-After.\n\nExamples:\n` +
        '  buzzer clients limits acme\n  buzzer clients limits acme --rate 5 --burst 20\n' +
        '  buzzer clients limits acme --default\n',
    )
    .action((clientId: string, options: LimitsOptions, command: Command) =>
      run(command, (ctx) => clientLimits(ctx, clientId, options), render),
    );
}
