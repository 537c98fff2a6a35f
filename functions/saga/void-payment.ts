import { voidPayment } from '#shared/saga/payment.ts';
import { paymentStepDeps } from '#shared/saga/payment-config.ts';
import { sagaStep } from '#shared/saga/step.ts';

const deps = paymentStepDeps();

export const handler = sagaStep('VoidPayment', (input) => voidPayment(deps, input.orderId, input.error));
