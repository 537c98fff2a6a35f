/**
 * Delivery of the assembled file to the partner by SFTP: under a temporary name first, renamed once whole, so the
 * partner never sees a partial file under the final name; a record per date and partner (the checksum sent) makes a
 * second run of the same date send nothing unless the operator asks for a resend.
 */
import type { Readable } from 'node:stream';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import SftpClient from 'ssh2-sftp-client';
import type { SettlementPartnerConfig } from '#contracts/settlement.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { namedError } from '#shared/named-error.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { type AssembledState, type DeliveryRecord, readDelivery } from './export.ts';
import { pinnedHostKey } from './host-key.ts';
import type { ObjectStore } from './object-store.ts';

/** The partner's SFTP secret is missing, unreadable or incomplete: a deployment problem. */
export class PartnerSecretUnavailable extends namedError('PartnerSecretUnavailable') {}
/** The date was delivered before with other contents: sending again needs an operator's `--resend`. */
export class AlreadyDeliveredDifferently extends namedError('AlreadyDeliveredDifferently') {}
/** The partner's server could not be reached or refused the upload; a redrive tries again. */
export class TransferFailed extends namedError('TransferFailed') {}

/** The secret: `{"host", "port", "username", "privateKey", "hostKey"}` (hostKey = `SHA256:…` as `ssh-keygen -l` shows it). */
export const partnerSecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535).default(22),
  username: z.string().min(1),
  privateKey: z.string().min(1),
  hostKey: z
    .string()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/i, { error: 'must be an SHA256:… host key fingerprint' }),
});
export type PartnerSecret = z.infer<typeof partnerSecretSchema>;

export async function readPartnerSecret(
  secrets: SecretsManagerClient,
  partner: SettlementPartnerConfig,
): Promise<PartnerSecret> {
  let text: string | undefined;
  try {
    text = (await secrets.send(new GetSecretValueCommand({ SecretId: partner.secretId }))).SecretString;
  } catch (error) {
    throw new PartnerSecretUnavailable(
      `the SFTP secret of partner ${partner.name} could not be read (${error instanceof Error ? error.name : 'error'})`,
      { cause: error },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    value = undefined;
  }
  const parsed = partnerSecretSchema.safeParse(value);
  if (!parsed.success) {
    throw new PartnerSecretUnavailable(
      `the SFTP secret of partner ${partner.name} must be JSON with host, port, username, privateKey and hostKey: ` +
        parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '(secret)'}: ${issue.message}`)
          .join('; '),
    );
  }
  return parsed.data;
}

export interface DeliveryResult {
  sent: boolean;
  /** Why nothing was sent, or where the file went. */
  detail: string;
  remotePath: string;
}

export interface DeliverDeps extends TableDeps {
  store: ObjectStore;
  secrets: SecretsManagerClient;
  /** @default a new ssh2-sftp-client (tests pass a fake) */
  sftp?: () => SftpLike;
  /** @default 20 s */
  connectTimeoutMs?: number;
}

/** The part of ssh2-sftp-client the delivery uses. */
export interface SftpLike {
  connect(options: Record<string, unknown>): Promise<unknown>;
  put(input: Readable, remotePath: string): Promise<unknown>;
  exists(remotePath: string): Promise<false | string>;
  stat(remotePath: string): Promise<{ size: number }>;
  delete(remotePath: string, noErrorOK?: boolean): Promise<unknown>;
  rename(from: string, to: string): Promise<unknown>;
  end(): Promise<unknown>;
}

const joinRemote = (directory: string, name: string) =>
  directory === '.' ? name : `${directory.replace(/\/+$/, '')}/${name}`;

export async function deliverFile(
  deps: DeliverDeps,
  partner: SettlementPartnerConfig,
  state: AssembledState,
  now = new Date(),
): Promise<DeliveryResult> {
  const remotePath = joinRemote(partner.directory, state.file.name);
  const previous = await readDelivery(deps, state.partner, state.date);
  if (previous && !state.resend) {
    if (previous.sha256 === state.file.sha256) {
      return {
        sent: false,
        detail: `already delivered at ${previous.deliveredAt} (same checksum)`,
        remotePath,
      };
    }
    throw new AlreadyDeliveredDifferently(
      `${state.file.name} was delivered at ${previous.deliveredAt} with checksum ${previous.sha256}; this run ` +
        `produced ${state.file.sha256}. Nothing was sent: check why the day changed, then run with --resend`,
    );
  }
  const secret = await readPartnerSecret(deps.secrets, partner);
  const hostKey = pinnedHostKey(secret.hostKey, `${secret.host}:${secret.port}`);
  const sftp = deps.sftp?.() ?? (new SftpClient(`settlement-${partner.name}`) as unknown as SftpLike);
  const temporary = `${remotePath}.part`;
  try {
    try {
      await sftp.connect({
        host: secret.host,
        port: secret.port,
        username: secret.username,
        privateKey: secret.privateKey,
        readyTimeout: deps.connectTimeoutMs ?? 20_000,
        retries: 0,
        hostVerifier: (key: Buffer) => hostKey.verify(key),
      });
    } catch (error) {
      throw hostKey.mismatch() ?? transferError(`connecting to ${secret.host}:${secret.port}`, error);
    }
    const body = await deps.store.getStream(state.file.key);
    if (!body) throw new Error(`the assembled file ${state.file.key} is missing`);
    try {
      // A temporary file left by an interrupted attempt is overwritten from the start: a restart, never a resume
      // that could splice two attempts' bytes.
      await sftp.put(body, temporary);
      // The client library can report a broken upload as finished (its stream closes before it errors): the size
      // on the server is what says the file is whole.
      const { size } = await sftp.stat(temporary);
      if (size !== state.file.bytes) {
        throw new Error(`${temporary} has ${size} of ${state.file.bytes} bytes after the upload`);
      }
      // SFTP v3 rename refuses an existing target: a resend replaces the earlier file.
      if (await sftp.exists(remotePath)) await sftp.delete(remotePath);
      await sftp.rename(temporary, remotePath);
    } catch (error) {
      throw transferError(`uploading ${remotePath}`, error);
    }
  } finally {
    await sftp.end().catch(() => undefined);
  }
  const record: DeliveryRecord = {
    sha256: state.file.sha256,
    file: remotePath,
    deliveredAt: now.toISOString(),
    deliveries: (previous?.deliveries ?? 0) + 1,
  };
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: {
        ...keys.settlementDelivery(state.partner, state.date),
        ...record,
        partner: state.partner,
        date: state.date,
      },
    }),
  );
  return { sent: true, detail: `delivered to ${secret.host}:${secret.port}`, remotePath };
}

function transferError(what: string, error: unknown): TransferFailed {
  const message = error instanceof Error ? error.message : String(error);
  return new TransferFailed(`SFTP ${what} failed: ${message}`, { cause: error });
}
