/**
 * The mail sink: stands in for SES so the notification worker's effects can be counted. A repeated
 * Idempotency-Key records nothing new; the answer says `duplicate: true` so the sender can tell.
 */
import { REPLAYED_HEADER } from './charges.ts';
import type { SandboxContext } from './context.ts';
import { applyMailFaults, readFaults } from './faults.ts';
import { ProviderUnavailable } from './provider-errors.ts';
import type { Reply } from './routes.ts';
import type { MailQuery, MailRequest } from './schemas.ts';
import type { MailRecord } from './store.ts';

export async function sendMail(ctx: SandboxContext, key: string, request: MailRequest): Promise<Reply> {
  await ctx.table.countCall('MAIL', key, ctx.now());
  applyMailFaults(ctx, await readFaults(ctx));

  const existing = await ctx.table.getRecord('MAIL', key);
  if (existing) return duplicate(existing);

  const proposed: MailRecord = {
    entity: 'Mail',
    id: ctx.newId('ml'),
    idempotencyKey: key,
    to: request.to,
    subject: request.subject,
    text: request.text,
    // Left out rather than undefined: the document client refuses undefined attribute values.
    ...(request.orderId === undefined ? {} : { orderId: request.orderId }),
    createdAt: ctx.now().toISOString(),
  };
  if (await ctx.table.putMailOnce(proposed)) {
    ctx.logger.info('mail recorded', { idempotencyKey: key, mailId: proposed.id, orderId: request.orderId });
    return { statusCode: 202, body: { id: proposed.id } };
  }
  const winner = await ctx.table.getRecord('MAIL', key);
  if (!winner) throw new ProviderUnavailable('conflict', `Mail ${key} is being written; retry`);
  return duplicate(winner);
}

export async function listMail(ctx: SandboxContext, query: MailQuery): Promise<Reply> {
  // Scanned on purpose: the sandbox table holds test traffic only and needs no index of its own.
  const mails = await ctx.table.scanMail(query);
  const calls = await ctx.table.getCallsMany(
    'MAIL',
    mails.map((mail) => mail.idempotencyKey),
  );
  const messages = mails
    .map((mail) => ({
      id: mail.id,
      idempotencyKey: mail.idempotencyKey,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      orderId: mail.orderId,
      createdAt: mail.createdAt,
      calls: calls.get(mail.idempotencyKey) ?? 0,
    }))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  return { statusCode: 200, body: { messages } };
}

function duplicate(mail: MailRecord): Reply {
  return { statusCode: 202, body: { id: mail.id, duplicate: true }, headers: REPLAYED_HEADER };
}
