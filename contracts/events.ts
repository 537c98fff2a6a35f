/**
 * The events Buzzer publishes on its bus. The relay stamps `source`, the rules match on it and on the detail types,
 * and the consumers parse them: one spelling, here.
 */
export const EVENT_SOURCE = 'buzzer.orders';

export const DETAIL_TYPES = {
  OrderPlaced: 'OrderPlaced',
  OrderConfirmed: 'OrderConfirmed',
  OrderCancelled: 'OrderCancelled',
} as const;

export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** Every detail type, in the order an order lives them. */
export const ORDER_EVENT_TYPES = [
  DETAIL_TYPES.OrderPlaced,
  DETAIL_TYPES.OrderConfirmed,
  DETAIL_TYPES.OrderCancelled,
] as const;
