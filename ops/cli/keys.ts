/** `buzzer keys create`: issue an API key for a client. */
import type { Command } from 'commander';
import { createApiKey } from '#shared/api-keys.ts';
import type { OpsContext } from './context.ts';
import type { CommandRunner } from './runner.ts';

export interface CreatedKey {
  clientId: string;
  apiKey: string;
  label?: string;
}

export async function createKey(ctx: OpsContext, clientId: string, label?: string): Promise<CreatedKey> {
  const { apiKey } = await createApiKey(ctx.clients.doc, ctx.target.tableName, clientId, label);
  return { clientId, apiKey, ...(label ? { label } : {}) };
}

export function registerKeyCommands(program: Command, run: CommandRunner): void {
  const keys = program.command('keys').description('API keys of the clients');
  keys
    .command('create')
    .description('Issue a new API key; it is shown once (only its SHA-256 is stored)')
    .requiredOption('--client <id>', 'the client the key belongs to')
    .option('--label <text>', 'a note for operators, e.g. who asked for it')
    .action((options: { client: string; label?: string }, command: Command) =>
      run(
        command,
        (ctx) => createKey(ctx, options.client, options.label),
        (key) =>
          `API key for client "${key.clientId}" (shown once; store it now):\n  ${key.apiKey}\n` +
          `use it as: Authorization: Bearer ${key.apiKey}\n`,
      ),
    );
}
