import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateSecret,
  InvalidWebhookMessage,
  InvalidWebhookSecret,
  signPayload,
} from '#functions/webhooks/signing.ts';

// Verified with the reference `standardwebhooks` library, never with our own code: that is what receivers run.
const body = JSON.stringify({
  type: 'OrderConfirmed',
  data: { orderId: 'ord-1', total: 2500, note: 'café ☕' },
});

describe('signPayload', () => {
  it('produces headers the Standard Webhooks reference library accepts', () => {
    const secret = generateSecret();

    const headers = signPayload({ id: 'msg_1', timestamp: new Date(), body, secrets: [secret] });

    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
  });

  it('writes the id, the timestamp in whole seconds and one v1 signature per secret', () => {
    const secret = generateSecret();
    const timestamp = new Date('2026-05-01T12:00:00.999Z');

    const headers = signPayload({ id: 'msg_1', timestamp, body, secrets: [secret] });

    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe('1777636800');
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('msg_1', timestamp, body));
  });

  it('signs with every active secret during a rotation, and either secret verifies', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();

    const headers = signPayload({
      id: 'msg_2',
      timestamp: new Date(),
      body,
      secrets: [newSecret, oldSecret],
    });

    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('signs a repeated secret once', () => {
    const secret = generateSecret();

    const headers = signPayload({ id: 'msg_3', timestamp: new Date(), body, secrets: [secret, secret] });

    expect(headers['webhook-signature'].split(' ')).toHaveLength(1);
  });

  it('fails verification with a wrong secret', () => {
    const headers = signPayload({ id: 'msg_1', timestamp: new Date(), body, secrets: [generateSecret()] });

    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow(WebhookVerificationError);
  });

  it('fails verification when the body, id or timestamp was tampered with', () => {
    const secret = generateSecret();
    const now = new Date();
    const headers = signPayload({ id: 'msg_1', timestamp: now, body, secrets: [secret] });
    const receiver = new Webhook(secret);

    expect(() => receiver.verify(body.replace('2500', '1'), headers)).toThrow(WebhookVerificationError);
    expect(() => receiver.verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow(
      WebhookVerificationError,
    );
    expect(() =>
      receiver.verify(body, {
        ...headers,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000) - 1),
      }),
    ).toThrow(WebhookVerificationError);
  });

  it('is accepted within the 5-minute tolerance and refused outside it', () => {
    const secret = generateSecret();
    const receiver = new Webhook(secret);
    const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

    const recent = signPayload({ id: 'msg_1', timestamp: minutesAgo(4), body, secrets: [secret] });
    const stale = signPayload({ id: 'msg_1', timestamp: minutesAgo(10), body, secrets: [secret] });

    expect(receiver.verify(body, recent)).toEqual(JSON.parse(body));
    expect(() => receiver.verify(body, stale)).toThrow('Message timestamp too old');
  });

  it.each([
    ['without the whsec_ prefix', randomBytes(32).toString('base64')],
    ['that is not base64', 'whsec_not base64!'],
    ['shorter than 24 bytes', `whsec_${randomBytes(16).toString('base64')}`],
    ['longer than 64 bytes', `whsec_${randomBytes(65).toString('base64')}`],
  ])('refuses a secret %s', (_case, secret) => {
    expect(() => signPayload({ id: 'msg_1', timestamp: new Date(), body, secrets: [secret] })).toThrow(
      InvalidWebhookSecret,
    );
  });

  it('refuses to sign with no secret', () => {
    expect(() => signPayload({ id: 'msg_1', timestamp: new Date(), body, secrets: [] })).toThrow(
      InvalidWebhookSecret,
    );
  });

  it.each([
    ['an empty id', '', new Date()],
    ['an id with a space', 'msg 1', new Date()],
    ['an invalid date', 'msg_1', new Date('not a date')],
  ])('refuses %s', (_case, id, timestamp) => {
    expect(() => signPayload({ id, timestamp, body, secrets: [generateSecret()] })).toThrow(
      InvalidWebhookMessage,
    );
  });
});

describe('generateSecret', () => {
  it('makes a whsec_ secret of 32 random bytes that the reference library loads', () => {
    const secret = generateSecret();

    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(() => new Webhook(secret)).not.toThrow();
  });

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 100 }, generateSecret));

    expect(secrets.size).toBe(100);
  });
});
