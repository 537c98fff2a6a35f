import {
  type AuthorizationResult,
  authorizePayment,
  type HeldPayment,
} from '#functions/payments/charging.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import type { SagaInput } from './saga-state.ts';

const deps = paymentStepDeps();

export const handler = lambdaChain<SagaInput, AuthorizationResult | HeldPayment>()
  .use(sagaStep('AuthorizePayment'))
  .handler((input) => authorizePayment(deps, input.orderId));
