/**
 * The requests and answers of the webhook routes, as zod schemas: the handlers validate with the request schemas
 * and type their answers with the response schemas, and the OpenAPI document (functions/api/openapi.ts) is generated
 * from both, so each shape is written once.
 */
// Only zod and contracts here: every webhook route's bundle imports this module, and test/infra/table-access.test.ts
// checks each bundle reaches no DynamoDB command beyond its grant.
import { ORDER_EVENT_TYPES as WEBHOOK_EVENT_TYPES } from '#contracts/events.ts';
import * as z from '#shared/zod.ts';

export const WEBHOOK_STATUSES = ['ENABLED', 'DISABLED'] as const;

/** How long the previous secret keeps signing after a rotation unless the client asks otherwise. */
export const DEFAULT_SECRET_GRACE_SECONDS = 24 * 60 * 60;
/** Receivers should not need more than a week to roll a secret out. */
export const MAX_SECRET_GRACE_SECONDS = 7 * 24 * 60 * 60;

/** One delivery attempt as `GET /webhooks/{id}/deliveries` lists it (the attempt log item, deliveries.ts). */
export const attemptViewSchema = z.object({
  deliveryId: z.string(),
  eventType: z.string(),
  orderId: z.string(),
  attempt: z.number().int(),
  at: z.string(),
  durationMs: z.number(),
  outcome: z.enum(['succeeded', 'failed']),
  statusCode: z.number().optional(),
  error: z.string().optional(),
  nextAttemptAt: z.string().optional(),
});
export type AttemptView = z.infer<typeof attemptViewSchema>;

export const webhookPathSchema = z.object({ id: z.uuid({ error: 'must be a webhook id (UUID)' }) });

/** The body of `POST /webhooks/{id}/rotate-secret`; no body means the default grace period. */
export const rotateSecretBodySchema = z.strictObject({
  /** 0 stops the old secret at once (it leaked); the default gives receivers a day to switch. */
  gracePeriodSeconds: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(0, { error: 'must not be negative' })
    .max(MAX_SECRET_GRACE_SECONDS, { error: `must be at most ${MAX_SECRET_GRACE_SECONDS} (7 days)` })
    .optional(),
});

export const DEFAULT_DELIVERIES_LIMIT = 50;
export const MAX_DELIVERIES_LIMIT = 100;

/** The query of `GET /webhooks/{id}/deliveries`. */
export const deliveriesQuerySchema = z.object({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, { error: `must be a whole number from 1 to ${MAX_DELIVERIES_LIMIT}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, { error: 'must be at least 1' })
        .max(MAX_DELIVERIES_LIMIT, { error: `must be at most ${MAX_DELIVERIES_LIMIT}` }),
    )
    .optional(),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, { error: 'must be a nextCursor this route returned' })
    .optional(),
});

const eventsSchema = z.array(z.enum(WEBHOOK_EVENT_TYPES));

/** `201` of `POST /webhooks`: the only answer that shows the new endpoint's secret. */
export const createdWebhookSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: eventsSchema,
  /** `whsec_…`: verify deliveries with it (Standard Webhooks); it is never shown again. */
  secret: z.string(),
  status: z.literal('ENABLED'),
  createdAt: z.string(),
});

/** One endpoint as `GET /webhooks` lists it; a DISABLED one says why and since when. */
export const webhookViewSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: eventsSchema,
  status: z.enum(WEBHOOK_STATUSES),
  createdAt: z.string(),
  disabledReason: z.string().nullable().optional(),
  disabledAt: z.string().nullable().optional(),
});
export const webhookListSchema = z.object({ webhooks: z.array(webhookViewSchema) });

/** `200` of `POST /webhooks/{id}/rotate-secret`. */
export const rotatedSecretSchema = z.object({
  id: z.uuid(),
  /** The new secret, shown once. */
  secret: z.string(),
  /** Until when the previous secret still signs, or null when it stopped at once (grace period 0). */
  previousSecretExpiresAt: z.string().nullable(),
});

/** `200` of `GET /webhooks/{id}/deliveries`: attempts newest first; pass `nextCursor` back for the next page. */
export const deliveriesPageSchema = z.object({
  attempts: z.array(attemptViewSchema),
  nextCursor: z.string().nullable(),
});

/** `200` of `POST /webhooks/{id}/enable`. */
export const enabledWebhookSchema = z.object({
  id: z.uuid(),
  status: z.literal('ENABLED'),
  /** FAILED deliveries queued for replay, oldest first. */
  replayed: z.number().int().min(0),
  /** More FAILED deliveries wait: call again. */
  more: z.boolean(),
});

export type CreatedWebhookBody = z.infer<typeof createdWebhookSchema>;
export type WebhookListBody = z.infer<typeof webhookListSchema>;
export type RotatedSecretBody = z.infer<typeof rotatedSecretSchema>;
export type DeliveriesPageBody = z.infer<typeof deliveriesPageSchema>;
export type EnabledWebhookBody = z.infer<typeof enabledWebhookSchema>;
