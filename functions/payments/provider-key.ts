import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { OutgoingRequest, RequestAuthenticator } from '#shared/request-auth.ts';
import * as z from '#shared/zod.ts';

/** The provider's API key could not be read: a deployment or permission problem, retried by the caller. */
export class ProviderKeyUnavailable extends Error {
  override name = 'ProviderKeyUnavailable';
}

/** A secret created in the console as key/value pairs holds `{"apiKey": "..."}`; a plain-text secret is the key. */
const keyValueSecret = z.object({ apiKey: z.string().trim().min(1) });

function keyFrom(secretString: string | undefined): string {
  const text = secretString?.trim() ?? '';
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const secret = keyValueSecret.safeParse(parsed);
    if (secret.success) return secret.data.apiKey;
    throw new ProviderKeyUnavailable('the payment provider secret is JSON without a non-empty "apiKey"');
  }
  if (text === '') throw new ProviderKeyUnavailable('the payment provider secret has no SecretString');
  return text;
}

/**
 * `Authorization: Bearer <key>` with the provider's API key from AWS Secrets Manager. The key is read once per
 * execution environment (the first request waits for it); a failed read is not kept, so the next request tries again.
 */
export class SecretBearerAuthenticator implements RequestAuthenticator {
  private key: Promise<string> | undefined;

  constructor(
    private readonly secrets: SecretsManagerClient,
    private readonly secretArn: string,
  ) {}

  async headersFor(request: OutgoingRequest): Promise<Record<string, string>> {
    return { ...request.headers, authorization: `Bearer ${await this.apiKey()}` };
  }

  private apiKey(): Promise<string> {
    this.key ??= this.read().catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }

  private async read(): Promise<string> {
    let secretString: string | undefined;
    try {
      const answer = await this.secrets.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
      secretString = answer.SecretString;
    } catch (error) {
      // The SDK's message names the secret's ARN and the role: the log has them, the error the saga records does not.
      throw new ProviderKeyUnavailable(
        `the payment provider secret could not be read (${error instanceof Error ? error.name : 'error'})`,
        { cause: error },
      );
    }
    return keyFrom(secretString);
  }
}
