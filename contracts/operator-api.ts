/**
 * The operator API's routes: what the web console calls. One list, read by the stack (one API Gateway route each,
 * every one behind the operators' authorizer: lib/constructs/operator-api.ts), by the route table that answers them
 * (ops/api/routes.ts, served by the Lambda functions/operations/operator-api.ts and by `npm start`'s console server
 * under `/api`), and by the tests.
 */
export const OPERATOR_ROUTES = [
  { name: 'config', method: 'GET', path: '/config' },
  { name: 'listOrders', method: 'GET', path: '/orders' },
  { name: 'orderStory', method: 'GET', path: '/orders/{orderId}' },
  { name: 'listDlqs', method: 'GET', path: '/dlqs' },
  { name: 'peekDlq', method: 'GET', path: '/dlqs/{alias}' },
  { name: 'redriveDlq', method: 'POST', path: '/dlqs/{alias}/redrive' },
  { name: 'listSagas', method: 'GET', path: '/sagas' },
  { name: 'redriveSaga', method: 'POST', path: '/sagas/redrive' },
  { name: 'unpublishedOutbox', method: 'GET', path: '/outbox' },
  { name: 'replayOutbox', method: 'POST', path: '/outbox/replay' },
  { name: 'listWebhooks', method: 'GET', path: '/webhooks' },
  { name: 'replayWebhook', method: 'POST', path: '/webhooks/{client}/{webhookId}/replay' },
  { name: 'listBatchRuns', method: 'GET', path: '/batch/runs' },
  { name: 'runSettlement', method: 'POST', path: '/batch/settlement' },
  { name: 'redriveBatchRun', method: 'POST', path: '/batch/runs/redrive' },
] as const;

export type OperatorRoute = (typeof OPERATOR_ROUTES)[number];
export type OperatorRouteName = OperatorRoute['name'];

/** The Cognito group an operator must be in: the operator API refuses a signed-in user outside it. */
export const OPERATOR_GROUP = 'operators';
