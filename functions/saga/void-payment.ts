import { voidPayment } from '#functions/payments/charging.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import type { CompensationResult, SagaInput } from './saga-state.ts';

const deps = paymentStepDeps();

export const handler = lambdaChain<SagaInput, CompensationResult>()
  .use(sagaStep('VoidPayment'))
  .handler((input) => voidPayment(deps, input.orderId, input.error));
