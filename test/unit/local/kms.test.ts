import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { type Gateway, startGateway } from '#local/engines/gateway.ts';
import { createKmsService, KMS_TARGET, KmsEngine } from '#local/engines/kms.ts';
import { silentLogger } from '#local/types.ts';

const KEY = {
  keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  arn: 'arn:aws:kms:us-east-1:000000000000:key/1b4e28ba-2fa1-11d2-883f-0016d3cca427',
};
const OTHER_KEY = {
  keyId: '6fa459ea-ee8a-3ca4-894e-db77e160355e',
  arn: 'arn:aws:kms:us-east-1:000000000000:key/6fa459ea-ee8a-3ca4-894e-db77e160355e',
};
const CONTEXT = { purpose: 'test', clientId: 'client-a', webhookId: 'w-1' };

const running: Array<{ gateway: Gateway; kms: KMSClient }> = [];

/** An engine behind a real gateway, reached by the real SDK client as a function would reach it. */
async function serve(engine: KmsEngine): Promise<KMSClient> {
  engine.registerKey(KEY);
  engine.registerKey(OTHER_KEY);
  engine.registerAlias('alias/webhooks', KEY.keyId);
  const gateway = await startGateway({ logger: silentLogger });
  gateway.registerService(KMS_TARGET, createKmsService(engine));
  const kms = new KMSClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  running.push({ gateway, kms });
  return kms;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error,
  );
}

afterAll(async () => {
  for (const { gateway, kms } of running) {
    kms.destroy();
    await gateway.stop();
  }
});

describe('local KMS engine', () => {
  let kms: KMSClient;

  beforeAll(async () => {
    kms = await serve(await KmsEngine.start());
  });

  it('generates a data key whose ciphertext decrypts to it under the same context', async () => {
    const generated = await kms.send(
      new GenerateDataKeyCommand({ KeyId: KEY.keyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
    );

    expect(generated.KeyId).toBe(KEY.arn);
    expect(generated.Plaintext).toHaveLength(32);
    const decrypted = await kms.send(
      // Same context, keys in another order: the context is a map, not a string.
      new DecryptCommand({
        CiphertextBlob: generated.CiphertextBlob,
        EncryptionContext: { webhookId: 'w-1', clientId: 'client-a', purpose: 'test' },
      }),
    );
    expect(decrypted.KeyId).toBe(KEY.arn);
    expect(Buffer.from(decrypted.Plaintext ?? [])).toEqual(Buffer.from(generated.Plaintext ?? []));
  });

  it.each([
    ['another webhook', { ...CONTEXT, webhookId: 'w-2' }],
    ['another client', { ...CONTEXT, clientId: 'client-b' }],
    ['no context', undefined],
    ['an extra entry', { ...CONTEXT, extra: 'x' }],
  ])('refuses to decrypt under %s', async (_name, context) => {
    const { CiphertextBlob } = await kms.send(
      new GenerateDataKeyCommand({ KeyId: KEY.keyId, NumberOfBytes: 32, EncryptionContext: CONTEXT }),
    );

    const error = await rejection(
      kms.send(new DecryptCommand({ CiphertextBlob, ...(context ? { EncryptionContext: context } : {}) })),
    );

    expect(error.name).toBe('InvalidCiphertextException');
  });

  it('refuses a tampered ciphertext', async () => {
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: KEY.keyId, Plaintext: Buffer.from('hello'), EncryptionContext: CONTEXT }),
    );
    const tampered = Buffer.from(CiphertextBlob ?? []);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;

    const error = await rejection(
      kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: CONTEXT })),
    );

    expect(error.name).toBe('InvalidCiphertextException');
  });

  it.each([
    ['key id', KEY.keyId],
    ['key ARN', KEY.arn],
    ['alias', 'alias/webhooks'],
    ['alias ARN', 'arn:aws:kms:us-east-1:000000000000:alias/webhooks'],
  ])('encrypts and decrypts by %s', async (_name, keyId) => {
    const encrypted = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hello') }));

    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));

    expect(encrypted.KeyId).toBe(KEY.arn);
    expect(Buffer.from(decrypted.Plaintext ?? []).toString()).toBe('hello');
  });

  it('answers NotFoundException for a key the template does not have', async () => {
    const error = await rejection(
      kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/nope', KeySpec: 'AES_256' })),
    );

    expect(error.name).toBe('NotFoundException');
  });

  it('answers IncorrectKeyException when Decrypt names another key than the one that encrypted', async () => {
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: KEY.keyId, Plaintext: Buffer.from('hello') }),
    );

    const error = await rejection(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: OTHER_KEY.keyId })));

    expect(error.name).toBe('IncorrectKeyException');
  });

  it('validates its input as KMS does', async () => {
    const both = await rejection(
      kms.send(new GenerateDataKeyCommand({ KeyId: KEY.keyId, KeySpec: 'AES_256', NumberOfBytes: 32 })),
    );
    const unsupported = await rejection(kms.send(new ListKeysCommand({})));

    expect(both.name).toBe('ValidationException');
    expect(unsupported.name).toBe('UnknownOperationException');
  });
});

describe('local KMS master key', () => {
  let dir: string;

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is kept in the persist directory (mode 0600), so a restarted runtime decrypts what the last one sealed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'buzzer-kms-'));
    const before = await serve(await KmsEngine.start({ persistDir: dir }));
    const { CiphertextBlob, Plaintext } = await before.send(
      new GenerateDataKeyCommand({ KeyId: KEY.keyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
    );

    const after = await serve(await KmsEngine.start({ persistDir: dir }));
    const reopened = await after.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: CONTEXT }));
    const stranger = await serve(await KmsEngine.start());
    const error = await rejection(
      stranger.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: CONTEXT })),
    );

    expect(Buffer.from(reopened.Plaintext ?? [])).toEqual(Buffer.from(Plaintext ?? []));
    expect(error.name).toBe('InvalidCiphertextException');
    expect((await stat(join(dir, 'master.key'))).mode & 0o777).toBe(0o600);
  });

  it('refuses a master key file of the wrong size', async () => {
    dir = await mkdtemp(join(tmpdir(), 'buzzer-kms-'));
    await writeFile(join(dir, 'master.key'), 'short');

    await expect(KmsEngine.start({ persistDir: dir })).rejects.toThrow(/not a local KMS master key/);
  });
});
