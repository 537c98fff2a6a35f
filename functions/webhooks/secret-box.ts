/**
 * Envelope encryption of webhook signing secrets, so a table dump (a backup, an export, an operator's `get-item`)
 * holds nothing that signs a delivery. Each secret is sealed on its own:
 *
 * - KMS `GenerateDataKey` (AES-256) under the webhooks key, with the encryption context
 *   `{purpose, clientId, webhookId}`; only the encrypted data key is stored;
 * - the secret is encrypted locally with that data key (AES-256-GCM, random 96-bit IV, the same context as
 *   additional data), and the plaintext data key is dropped;
 * - opening asks KMS `Decrypt` with the endpoint's own context: a sealed secret copied onto another client's or
 *   another endpoint's item does not open there, because KMS refuses the context.
 *
 * Only the functions that create secrets (registration, rotation) may generate data keys, and only the dispatcher may
 * decrypt them (lib/constructs/webhooks.ts). Locally the runtime's own KMS serves the same calls.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import * as z from '#shared/zod.ts';

/** Tells IAM policies and CloudTrail what a data key is for; the grants require it. */
export const SECRET_PURPOSE = 'buzzer-webhook-signing-secret';
const IV_BYTES = 12;
const BASE64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

export const sealedSecretSchema = z.object({
  v: z.literal(1),
  /** The KMS-encrypted data key (base64 CiphertextBlob). */
  key: BASE64,
  iv: BASE64,
  tag: BASE64,
  /** The secret, AES-256-GCM under the data key. */
  data: BASE64,
});
export type SealedSecret = z.infer<typeof sealedSecretSchema>;

/** Whose secret it is: bound into both the KMS encryption context and the GCM additional data. */
export interface SecretOwner {
  clientId: string;
  webhookId: string;
}

export interface SecretBox {
  seal(secret: string, owner: SecretOwner): Promise<SealedSecret>;
  open(sealed: SealedSecret, owner: SecretOwner): Promise<string>;
}

/** A sealed secret that does not open for its owner: tampered, or copied from another endpoint. */
export class SecretUnreadable extends Error {
  override name = 'SecretUnreadable';
}

export function encryptionContext(owner: SecretOwner): Record<string, string> {
  return { purpose: SECRET_PURPOSE, clientId: owner.clientId, webhookId: owner.webhookId };
}

export interface KmsSecretBoxOptions {
  /**
   * How long an opened secret is kept in memory, so a busy endpoint costs one Decrypt per period rather than one per
   * delivery (KMS bills and throttles per request). 0 turns the cache off. @default 5 minutes
   */
  cacheTtlMs?: number;
  /** @default 1000 */
  cacheMaxEntries?: number;
  clock?: () => number;
}

export class KmsSecretBox implements SecretBox {
  private readonly cache = new Map<string, { secret: string; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly clock: () => number;

  constructor(
    private readonly kms: KMSClient,
    /** The webhooks key: id, ARN or alias. Decrypt names it too, so no other key can be made to answer. */
    private readonly keyId: string,
    options: KmsSecretBoxOptions = {},
  ) {
    this.ttlMs = options.cacheTtlMs ?? 5 * 60_000;
    this.maxEntries = options.cacheMaxEntries ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  async seal(secret: string, owner: SecretOwner): Promise<SealedSecret> {
    const { Plaintext, CiphertextBlob } = await this.kms.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: encryptionContext(owner),
      }),
    );
    if (!Plaintext || !CiphertextBlob) throw new Error('KMS GenerateDataKey returned no data key');
    const dataKey = Buffer.from(Plaintext);
    try {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
      cipher.setAAD(additionalData(owner));
      const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return {
        v: 1,
        key: Buffer.from(CiphertextBlob).toString('base64'),
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        data: data.toString('base64'),
      };
    } finally {
      dataKey.fill(0);
      Plaintext.fill(0);
    }
  }

  async open(sealed: SealedSecret, owner: SecretOwner): Promise<string> {
    const cacheKey = `${owner.clientId}\n${owner.webhookId}\n${sealed.key}\n${sealed.data}`;
    const now = this.clock();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > now) return cached.secret;

    let plaintext: Uint8Array | undefined;
    try {
      ({ Plaintext: plaintext } = await this.kms.send(
        new DecryptCommand({
          KeyId: this.keyId,
          CiphertextBlob: Buffer.from(sealed.key, 'base64'),
          EncryptionContext: encryptionContext(owner),
        }),
      ));
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidCiphertextException') {
        throw new SecretUnreadable(
          `the signing secret of webhook ${owner.webhookId} does not open for its owner`,
        );
      }
      throw error;
    }
    if (!plaintext) throw new Error('KMS Decrypt returned no data key');
    const dataKey = Buffer.from(plaintext);
    let secret: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(additionalData(owner));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      secret = Buffer.concat([
        decipher.update(Buffer.from(sealed.data, 'base64')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretUnreadable(`the signing secret of webhook ${owner.webhookId} failed authentication`);
    } finally {
      dataKey.fill(0);
      plaintext.fill(0);
    }
    if (this.ttlMs > 0) {
      this.cache.delete(cacheKey);
      this.cache.set(cacheKey, { secret, until: now + this.ttlMs });
      // Map keeps insertion order: the first entry is the oldest.
      while (this.cache.size > this.maxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
    }
    return secret;
  }
}

function additionalData(owner: SecretOwner): Buffer {
  return Buffer.from(JSON.stringify([SECRET_PURPOSE, owner.clientId, owner.webhookId]), 'utf8');
}
