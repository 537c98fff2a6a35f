/**
 * A local KMS for the template's `AWS::KMS::Key` resources, served as the `TrentService` of the gateway (awsJson1_1),
 * so handlers' `new KMSClient({})` reach it through `AWS_ENDPOINT_URL_KMS` and run the same envelope-encryption
 * code path as in AWS: GenerateDataKey, Encrypt and Decrypt, with the encryption context bound to the ciphertext.
 *
 * Every key is AES-256-GCM under a key derived (HKDF) from one per-runtime master key and the key's id. With a
 * persist directory the master key is kept there (`kms/master.key`, mode 0600), so data sealed before a restart
 * still opens after it; without one it lives in memory and dies with the runtime, like the rest of its data.
 * Ciphertexts are not compatible with AWS KMS and need not be: they never leave the local runtime.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AwsServiceError, type ServiceHandler } from './gateway.ts';

export const KMS_TARGET = 'TrentService';

const MASTER_KEY_BYTES = 32;
const MASTER_KEY_FILE = 'master.key';
/** `BZK1`: a local blob, format version 1. */
const MAGIC = Buffer.from('BZK1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** AWS KMS limits: Encrypt takes at most 4096 bytes, GenerateDataKey returns 1-1024. */
const MAX_PLAINTEXT_BYTES = 4096;
const MAX_DATA_KEY_BYTES = 1024;
const KEY_SPEC_BYTES: Readonly<Record<string, number>> = { AES_256: 32, AES_128: 16 };

export interface LocalKmsKey {
  /** The key id (`Ref` of the resource), a UUID. */
  keyId: string;
  /** `Fn::GetAtt [Key, Arn]`. */
  arn: string;
}

export interface KmsEngineOptions {
  /** Keep the master key here (created on first start) so ciphertexts survive restarts. */
  persistDir?: string;
}

export type EncryptionContext = Record<string, string>;

export class KmsEngine {
  private readonly keys = new Map<string, LocalKmsKey>();
  private readonly aliases = new Map<string, string>();

  private constructor(private readonly masterKey: Buffer) {}

  static async start(options: KmsEngineOptions = {}): Promise<KmsEngine> {
    if (!options.persistDir) return new KmsEngine(randomBytes(MASTER_KEY_BYTES));
    return new KmsEngine(await loadOrCreateMasterKey(options.persistDir));
  }

  registerKey(key: LocalKmsKey): void {
    this.keys.set(key.keyId, key);
  }

  /** `alias/name` → a registered key's id or ARN (`TargetKeyId`). */
  registerAlias(aliasName: string, targetKeyId: string): void {
    this.aliases.set(aliasName, targetKeyId);
  }

  generateDataKey(keyId: string, bytes: number, context: EncryptionContext) {
    const key = this.resolveKey(keyId);
    const plaintext = randomBytes(bytes);
    return { KeyId: key.arn, Plaintext: plaintext, CiphertextBlob: this.seal(key, plaintext, context) };
  }

  encrypt(keyId: string, plaintext: Buffer, context: EncryptionContext) {
    const key = this.resolveKey(keyId);
    return {
      KeyId: key.arn,
      CiphertextBlob: this.seal(key, plaintext, context),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  /** `keyId`, when given, must be the key the blob was made with (AWS answers IncorrectKeyException). */
  decrypt(blob: Buffer, context: EncryptionContext, keyId?: string) {
    const parsed = parseBlob(blob);
    const key = this.keys.get(parsed.keyId);
    if (!key) throw invalidCiphertext();
    if (keyId !== undefined && this.resolveKey(keyId).keyId !== key.keyId) {
      throw new AwsServiceError(
        'IncorrectKeyException',
        'The key ID in the request does not identify the key that encrypted the ciphertext',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.keyMaterial(key), parsed.iv);
    decipher.setAAD(additionalData(key, context));
    decipher.setAuthTag(parsed.tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
    } catch {
      // A wrong encryption context fails authentication exactly like a tampered blob, as in AWS.
      throw invalidCiphertext();
    }
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  private seal(key: LocalKmsKey, plaintext: Buffer, context: EncryptionContext): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keyMaterial(key), iv);
    cipher.setAAD(additionalData(key, context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const id = Buffer.from(key.keyId, 'utf8');
    return Buffer.concat([MAGIC, Buffer.from([id.length]), id, iv, cipher.getAuthTag(), ciphertext]);
  }

  private keyMaterial(key: LocalKmsKey): Buffer {
    return Buffer.from(hkdfSync('sha256', this.masterKey, 'buzzer-local-kms', key.keyId, 32));
  }

  /** A key id, key ARN, alias name or alias ARN, as KMS accepts them. */
  private resolveKey(keyId: string): LocalKmsKey {
    const aliasName = keyId.startsWith('alias/')
      ? keyId
      : /^arn:[^:]+:kms:[^:]*:[^:]*:(alias\/.+)$/.exec(keyId)?.[1];
    const target = aliasName === undefined ? keyId : this.aliases.get(aliasName);
    const id = target?.startsWith('arn:') ? target.slice(target.lastIndexOf('/') + 1) : target;
    const key = id === undefined ? undefined : this.keys.get(id);
    if (!key || (keyId.startsWith('arn:') && aliasName === undefined && key.arn !== keyId)) {
      throw new AwsServiceError('NotFoundException', `Key '${keyId}' does not exist`);
    }
    return key;
  }
}

/** The gateway service: decodes awsJson1_1 bodies (blobs are base64) into engine calls. */
export function createKmsService(engine: KmsEngine): ServiceHandler {
  return async (operation, body) => {
    const input = isObject(body) ? body : {};
    const context = encryptionContext(input.EncryptionContext);
    switch (operation) {
      case 'GenerateDataKey': {
        const result = engine.generateDataKey(requiredString(input, 'KeyId'), dataKeyBytes(input), context);
        return {
          KeyId: result.KeyId,
          Plaintext: result.Plaintext.toString('base64'),
          CiphertextBlob: result.CiphertextBlob.toString('base64'),
        };
      }
      case 'Encrypt': {
        const plaintext = blob(input, 'Plaintext');
        if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
          throw validation(`Plaintext must be 1-${MAX_PLAINTEXT_BYTES} bytes`);
        }
        const result = engine.encrypt(requiredString(input, 'KeyId'), plaintext, context);
        return { ...result, CiphertextBlob: result.CiphertextBlob.toString('base64') };
      }
      case 'Decrypt': {
        const keyId = input.KeyId;
        if (keyId !== undefined && typeof keyId !== 'string') throw validation('KeyId must be a string');
        const result = engine.decrypt(blob(input, 'CiphertextBlob'), context, keyId);
        return { ...result, Plaintext: result.Plaintext.toString('base64') };
      }
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally (GenerateDataKey, Encrypt, Decrypt are)`,
        );
    }
  };
}

async function loadOrCreateMasterKey(persistDir: string): Promise<Buffer> {
  const dir = path.resolve(persistDir);
  const file = path.join(dir, MASTER_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, randomBytes(MASTER_KEY_BYTES), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A file copied in with looser permissions is tightened: it opens every secret sealed under it.
  await chmod(file, 0o600);
  const key = await readFile(file);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new Error(
      `${file} is not a local KMS master key (${key.length} bytes, expected ${MASTER_KEY_BYTES})`,
    );
  }
  return key;
}

/** The key id and the context in one canonical form (sorted keys), so the same context always authenticates. */
function additionalData(key: LocalKmsKey, context: EncryptionContext): Buffer {
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify([key.keyId, entries]), 'utf8');
}

function parseBlob(blob: Buffer) {
  const idLength = blob[MAGIC.length];
  if (!blob.subarray(0, MAGIC.length).equals(MAGIC) || idLength === undefined) throw invalidCiphertext();
  const idStart = MAGIC.length + 1;
  const ivStart = idStart + idLength;
  const tagStart = ivStart + IV_BYTES;
  const dataStart = tagStart + TAG_BYTES;
  if (blob.length < dataStart) throw invalidCiphertext();
  return {
    keyId: blob.subarray(idStart, ivStart).toString('utf8'),
    iv: blob.subarray(ivStart, tagStart),
    tag: blob.subarray(tagStart, dataStart),
    ciphertext: blob.subarray(dataStart),
  };
}

function dataKeyBytes(input: Record<string, unknown>): number {
  const { KeySpec, NumberOfBytes } = input;
  if (KeySpec !== undefined && NumberOfBytes !== undefined) {
    throw validation('Specify either KeySpec or NumberOfBytes, not both');
  }
  if (typeof KeySpec === 'string') {
    const bytes = KEY_SPEC_BYTES[KeySpec];
    if (bytes === undefined)
      throw validation(`KeySpec must be one of ${Object.keys(KEY_SPEC_BYTES).join(', ')}`);
    return bytes;
  }
  if (typeof NumberOfBytes === 'number' && Number.isInteger(NumberOfBytes)) {
    if (NumberOfBytes < 1 || NumberOfBytes > MAX_DATA_KEY_BYTES) {
      throw validation(`NumberOfBytes must be 1-${MAX_DATA_KEY_BYTES}`);
    }
    return NumberOfBytes;
  }
  throw validation('KeySpec or NumberOfBytes is required');
}

function encryptionContext(value: unknown): EncryptionContext {
  if (value === undefined) return {};
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw validation('EncryptionContext must map strings to strings');
  }
  return value as EncryptionContext;
}

function blob(input: Record<string, unknown>, name: string): Buffer {
  const value = input[name];
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw validation(`${name} must be a base64 blob`);
  }
  return Buffer.from(value, 'base64');
}

function requiredString(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value === '') throw validation(`${name} is required`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError('ValidationException', message);
}

function invalidCiphertext(): AwsServiceError {
  return new AwsServiceError(
    'InvalidCiphertextException',
    'The ciphertext is invalid or its context does not match',
  );
}
