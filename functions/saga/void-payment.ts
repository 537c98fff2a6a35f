import { voidPayment } from '#functions/payments/charging.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { sagaStep } from './step.ts';

const deps = paymentStepDeps();

export const handler = sagaStep('VoidPayment', (input) => voidPayment(deps, input.orderId, input.error));
