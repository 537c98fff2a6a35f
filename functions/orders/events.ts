import { type DetailType, EVENT_SOURCE, ORDER_EVENT_TYPES } from '#contracts/events.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { parseJsonMessage } from '#shared/json-message.ts';
import * as z from '#shared/zod.ts';
import { type OrderSummary, orderSummarySchema } from './order.ts';

/** The facts Buzzer publishes (docs/architecture.md, "Events on the bus"); their names live in the contracts. */
export { ORDER_EVENT_TYPES };
export type OrderEventType = DetailType;

export const eventDetailSchema = z.object({
  messageId: z.string().min(1),
  messageType: z.enum(ORDER_EVENT_TYPES),
  orderId: z.string().min(1),
  clientId: z.string().min(1),
  correlationId: z.string().min(1),
  version: z.number().int().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  payload: z.record(z.string(), z.unknown()),
});
export type EventDetail = z.infer<typeof eventDetailSchema>;

/** The EventBridge event as an SQS target receives it (no input transformer). Other fields are ignored. */
const envelopeSchema = z.object({
  id: z.string().min(1),
  'detail-type': z.enum(ORDER_EVENT_TYPES),
  source: z.literal(EVENT_SOURCE),
  detail: eventDetailSchema,
});

export interface OrderEvent {
  eventId: string;
  detail: EventDetail;
  order: OrderSummary;
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/**
 * Parses an SQS message body holding an order event. Throws `InvalidMessage` for anything a consumer
 * cannot act on, so the record fails and ends in the queue's DLQ instead of vanishing.
 */
export function parseOrderEvent(body: string, accepted: readonly OrderEventType[]): OrderEvent {
  const json = parseJsonMessage(body, 'message body');
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) throw new InvalidMessage(`not an order event: ${describe(envelope.error)}`);
  const { detail } = envelope.data;
  if (envelope.data['detail-type'] !== detail.messageType) {
    throw new InvalidMessage(
      `detail-type ${envelope.data['detail-type']} does not match detail.messageType ${detail.messageType}`,
    );
  }
  if (!accepted.includes(detail.messageType)) {
    throw new InvalidMessage(
      `unexpected event type ${detail.messageType}; expected ${accepted.join(' or ')}`,
    );
  }
  const order = orderSummarySchema.safeParse(detail.payload);
  if (!order.success)
    throw new InvalidMessage(`invalid ${detail.messageType} payload: ${describe(order.error)}`);
  if (order.data.orderId !== detail.orderId) {
    throw new InvalidMessage(
      `payload.orderId ${order.data.orderId} does not match detail.orderId ${detail.orderId}`,
    );
  }
  return { eventId: envelope.data.id, detail, order: order.data };
}
