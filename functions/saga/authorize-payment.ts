import { authorizePayment } from '#functions/payments/charging.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { sagaStep } from './step.ts';

const deps = paymentStepDeps();

export const handler = sagaStep('AuthorizePayment', (input) => authorizePayment(deps, input.orderId));
