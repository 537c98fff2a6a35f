import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { ENV } from '#contracts/environment.ts';
import { httpUrl, requiredString } from '#shared/config.ts';
import { authenticatedFetch, type RequestAuthenticator, sigV4FromEnvironment } from '#shared/request-auth.ts';
import * as z from '#shared/zod.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  orderId?: string;
}

export interface Mailer {
  /** Sends one mail. `idempotencyKey` lets a transport that supports it drop a duplicate send. */
  send(message: MailMessage, idempotencyKey: string): Promise<void>;
}

/** The transport could not take the mail now (5xx, throttling, timeout, network): retry later. */
export class MailUnavailable extends Error {
  override name = 'MailUnavailable';
}

/** The transport refused the mail itself (4xx): retrying the same request cannot help. */
export class MailRejected extends Error {
  override name = 'MailRejected';
}

export const mailConfigSchema = z.discriminatedUnion(
  ENV.MAIL_TRANSPORT,
  [
    z.object({ [ENV.MAIL_TRANSPORT]: z.literal('sink'), [ENV.MAIL_SINK_URL]: httpUrl(ENV.MAIL_SINK_URL) }),
    z.object({ [ENV.MAIL_TRANSPORT]: z.literal('ses'), [ENV.MAIL_FROM]: requiredString(ENV.MAIL_FROM) }),
  ],
  { error: 'MAIL_TRANSPORT must be "sink" or "ses"' },
);
export type MailConfig = z.infer<typeof mailConfigSchema>;

/** The longest one send may take (the sink's deadline); the mail circuit's probe lease is built on it. */
export const MAIL_TIMEOUT_MS = 5000;

/**
 * The sandbox mail sink: `POST /v1/mail` with an idempotency key (a repeated key records nothing new). The sink is an
 * IAM-authorized API: `auth` signs each request with SigV4.
 */
export class SinkMailer implements Mailer {
  constructor(
    private readonly baseUrl: string,
    private readonly auth: RequestAuthenticator,
  ) {}

  async send(message: MailMessage, idempotencyKey: string): Promise<void> {
    let response: Response;
    try {
      response = await authenticatedFetch(this.auth, `${this.baseUrl}/v1/mail`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(MAIL_TIMEOUT_MS),
      });
      await response.arrayBuffer();
    } catch (error) {
      throw new MailUnavailable(
        `mail sink unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (response.ok) return;
    const text = `mail sink answered HTTP ${response.status}`;
    if (response.status === 408 || response.status === 429 || response.status >= 500)
      throw new MailUnavailable(text);
    throw new MailRejected(text);
  }
}

/** Amazon SES v2. SES has no idempotency key: the worker's effect claim is what prevents a second mail. */
export class SesMailer implements Mailer {
  constructor(
    private readonly ses: SESv2Client,
    private readonly from: string,
  ) {}

  async send(message: MailMessage): Promise<void> {
    try {
      await this.sendEmail(message);
    } catch (error) {
      // SES down, throttling or unreachable says "not now" (the mail circuit counts it); anything else is an answer.
      if (sesUnavailable(error)) {
        throw new MailUnavailable(`SES could not take the mail: ${(error as Error).name}`, { cause: error });
      }
      throw error;
    }
  }

  private async sendEmail(message: MailMessage): Promise<void> {
    await this.ses.send(
      new SendEmailCommand({
        FromEmailAddress: this.from,
        Destination: { ToAddresses: [message.to] },
        Content: {
          Simple: {
            Subject: { Data: message.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: message.text, Charset: 'UTF-8' } },
          },
        },
      }),
    );
  }
}

const SES_NOT_NOW = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
]);

/** An SES error that says "not now" rather than "not this mail": a server fault, throttling, or no answer. */
function sesUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const fault = (error as { $fault?: unknown }).$fault;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return fault === 'server' || (typeof status === 'number' && status >= 500) || SES_NOT_NOW.has(error.name);
}

export function createMailer(
  config: MailConfig,
  ses: () => SESv2Client,
  sinkAuth: () => RequestAuthenticator = () => sigV4FromEnvironment(),
): Mailer {
  return config.MAIL_TRANSPORT === 'sink'
    ? new SinkMailer(config.MAIL_SINK_URL, sinkAuth())
    : new SesMailer(ses(), config.MAIL_FROM);
}
