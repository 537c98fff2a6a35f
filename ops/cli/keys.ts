/** `buzzer keys create|list|revoke|rotate`: API keys of the clients and their lifecycle. */
import type { Command } from 'commander';
import {
  type ApiKeySummary,
  CLIENT_ID_PATTERN,
  createApiKey,
  DEFAULT_API_KEY_LIFETIME_MS,
  InvalidClientId,
  type IssuedApiKey,
  listApiKeys,
  parseKeyId,
  revokeApiKey,
  rotateApiKey,
} from '#functions/clients/api-keys.ts';
import { usageIdentifierOf } from '#functions/clients/limits.ts';
import { OperatorError, type OpsContext } from './context.ts';
import { parseDuration, table } from './format.ts';
import type { CommandRunner } from './runner.ts';
import { sdkUsagePlanKeys, type UsagePlanKeys, usageKeyName } from './usage-plans.ts';

export type CreatedKey = IssuedApiKey;
export type RevokedKey = ApiKeySummary & { alreadyRevoked: boolean };
export interface RotatedKey {
  issued: IssuedApiKey;
  previous: ApiKeySummary;
}

/** A key's lifetime: a duration (`90d`, `12h`), or `never`, which must be asked for by name. */
export type Lifetime = number | 'never';

export const DEFAULT_ROTATION_GRACE = '24h';

export function parseLifetime(value: string): Lifetime {
  if (value.trim().toLowerCase() === 'never') return 'never';
  const ms = parseDuration(value);
  if (ms <= 0) throw new OperatorError('--expires-in must be longer than 0 (or "never")');
  return ms;
}

export function parseGrace(value: string): number {
  return value.trim() === '0' ? 0 : parseDuration(value);
}

const expiryFrom = (lifetime: Lifetime | undefined, now: Date): Date | 'never' | undefined =>
  lifetime === undefined || lifetime === 'never' ? lifetime : new Date(now.getTime() + lifetime);

const deps = (ctx: OpsContext) => ({ doc: ctx.clients.doc, tableName: ctx.target.tableName });

/** The usage plan tier every client's key is attached to (lib/constructs/api.ts creates `standard`). */
export const CLIENT_TIER = 'standard';

/** Runs `work` with the target's API Gateway keys, closing them after unless the context brought its own. */
async function withUsagePlanKeys<T>(ctx: OpsContext, work: (keys: UsagePlanKeys) => Promise<T>): Promise<T> {
  const keys = ctx.usagePlanKeys ?? sdkUsagePlanKeys(ctx.target);
  try {
    return await work(keys);
  } finally {
    if (!ctx.usagePlanKeys) keys.close();
  }
}

/**
 * REST flavour: the client's API Gateway API key (value: its usage identifier) on its usage plan, before its first
 * Buzzer key works: without it API Gateway refuses the authorizer's `usageIdentifierKey` with 403. Idempotent.
 */
async function attachUsageKey(ctx: OpsContext, clientId: string): Promise<void> {
  if (ctx.target.apiFlavour !== 'rest') return;
  const usagePlanId = ctx.target.usagePlanIds?.[CLIENT_TIER];
  if (!usagePlanId) {
    throw new OperatorError(`the stack has no "${CLIENT_TIER}" usage plan in its ClientUsagePlans output`);
  }
  const { created } = await withUsagePlanKeys(ctx, (keys) =>
    keys.attach({
      name: usageKeyName(ctx.target.stackName, clientId),
      value: usageIdentifierOf(clientId),
      usagePlanId,
    }),
  );
  if (created)
    ctx.progress(`created the API Gateway key of client "${clientId}" on the ${CLIENT_TIER} usage plan`);
}

export async function createKey(
  ctx: OpsContext,
  clientId: string,
  options: { label?: string; expiresIn?: Lifetime; now?: Date } = {},
): Promise<CreatedKey> {
  const now = options.now ?? new Date();
  const expiresAt = expiryFrom(options.expiresIn, now);
  // First: if it fails, no key was issued that the gateway would refuse.
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  await attachUsageKey(ctx, clientId);
  return createApiKey(ctx.clients.doc, ctx.target.tableName, clientId, {
    now,
    ...(options.label ? { label: options.label } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  });
}

export function listKeys(ctx: OpsContext, clientId: string, now = new Date()): Promise<ApiKeySummary[]> {
  return listApiKeys(deps(ctx), clientId, now);
}

/**
 * Revokes a key; on the REST flavour, the client's last active key also takes its API Gateway key with it (the
 * authorizer refuses a revoked key anyway; this leaves no usage plan key behind for a client without keys).
 */
export async function revokeKey(ctx: OpsContext, keyId: string, now = new Date()): Promise<RevokedKey> {
  const revoked = await revokeApiKey(deps(ctx), keyId, now);
  if (ctx.target.apiFlavour === 'rest') {
    const others = await listApiKeys(deps(ctx), revoked.clientId, now);
    if (!others.some((key) => key.state === 'ACTIVE')) {
      const removed = await withUsagePlanKeys(ctx, (keys) =>
        keys.remove(usageKeyName(ctx.target.stackName, revoked.clientId)),
      );
      if (removed)
        ctx.progress(`deleted the API Gateway key of client "${revoked.clientId}" (no active key left)`);
    }
  }
  return revoked;
}

export async function rotateKey(
  ctx: OpsContext,
  keyId: string,
  options: { graceMs: number; expiresIn?: Lifetime; now?: Date },
): Promise<RotatedKey> {
  const now = options.now ?? new Date();
  const expiresAt = expiryFrom(options.expiresIn, now);
  await attachUsageKey(ctx, parseKeyId(keyId).clientId);
  return rotateApiKey(deps(ctx), keyId, {
    graceMs: options.graceMs,
    now,
    ...(expiresAt ? { expiresAt } : {}),
  });
}

const expiry = (expiresAt: string | null): string => expiresAt ?? 'never';

function renderIssued(key: IssuedApiKey): string {
  return (
    `API key ${key.keyId} for client "${key.clientId}", expires ${expiry(key.expiresAt)} ` +
    `(shown once; store it now):\n  ${key.apiKey}\nuse it as: Authorization: Bearer ${key.apiKey}\n`
  );
}

function renderList(keys: ApiKeySummary[]): string {
  return table(
    ['key id', 'state', 'ends with', 'created', 'expires', 'label', 'rotated to'],
    keys.map((key) => [
      key.keyId,
      key.state,
      `…${key.last4}`,
      key.createdAt,
      expiry(key.expiresAt),
      key.label,
      key.rotatedTo,
    ]),
  );
}

const LIFECYCLE_HELP =
  "\nA revoked or expired key is refused within 60 s: API Gateway caches the authorizer's decision that long.\n";

export function registerKeyCommands(program: Command, run: CommandRunner): void {
  const keys = program
    .command('keys')
    .description('API keys of the clients: issue, list, revoke, rotate')
    .addHelpText('after', LIFECYCLE_HELP);
  keys
    .command('create')
    .description('Issue a new API key; it is shown once (only its SHA-256 is stored)')
    .requiredOption('--client <id>', 'the client the key belongs to')
    .option('--label <text>', 'a note for operators, e.g. who asked for it')
    .option(
      '--expires-in <duration>',
      `how long the key works, e.g. 30d, 12h, or "never" (default ${DEFAULT_API_KEY_LIFETIME_MS / 86_400_000}d)`,
      parseLifetime,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer keys create --client acme --label "ticket 1234"\n' +
        '  buzzer keys create --client acme --expires-in 7d\n',
    )
    .action((options: { client: string; label?: string; expiresIn?: Lifetime }, command: Command) =>
      run(
        command,
        (ctx) =>
          createKey(ctx, options.client, {
            ...(options.label ? { label: options.label } : {}),
            ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
          }),
        renderIssued,
      ),
    );
  keys
    .command('list')
    .description("A client's keys with their state (ACTIVE, REVOKED, EXPIRED); never the keys themselves")
    .requiredOption('--client <id>', 'the client')
    .action((options: { client: string }, command: Command) =>
      run(command, (ctx) => listKeys(ctx, options.client), renderList),
    );
  keys
    .command('revoke')
    .description('Revoke a key for good (its id from keys list)')
    .argument('<keyId>', 'the key id, <clientId>:<12 hex digits>')
    .addHelpText('after', LIFECYCLE_HELP)
    .action((keyId: string, _options: unknown, command: Command) =>
      run(
        command,
        (ctx) => revokeKey(ctx, keyId),
        (key) =>
          key.alreadyRevoked
            ? `API key ${key.keyId} was already revoked at ${key.revokedAt ?? '?'}\n`
            : `revoked API key ${key.keyId} (…${key.last4}) of client "${key.clientId}"; ` +
              'it is refused within 60 s\n',
      ),
    );
  keys
    .command('rotate')
    .description(
      'Issue a new key for the same client; the old one keeps working for the grace period, then expires',
    )
    .argument('<keyId>', 'the key to replace, <clientId>:<12 hex digits>')
    .option(
      '--grace <duration>',
      'how long the old key keeps working, e.g. 1h, or 0 to end it now',
      parseGrace,
      parseGrace(DEFAULT_ROTATION_GRACE),
    )
    .option(
      '--expires-in <duration>',
      'lifetime of the new key, e.g. 30d, or "never" (default 90d)',
      parseLifetime,
    )
    .addHelpText('after', `\nThe grace period defaults to ${DEFAULT_ROTATION_GRACE}.\n${LIFECYCLE_HELP}`)
    .action((keyId: string, options: { grace: number; expiresIn?: Lifetime }, command: Command) =>
      run(
        command,
        (ctx) =>
          rotateKey(ctx, keyId, {
            graceMs: options.grace,
            ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
          }),
        (result) =>
          renderIssued(result.issued) +
          `the old key ${result.previous.keyId} works until ${expiry(result.previous.expiresAt)}\n`,
      ),
    );
}
