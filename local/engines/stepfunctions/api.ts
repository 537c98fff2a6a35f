/**
 * The `AWSStepFunctions` service of the gateway: decodes awsJson1_0 request bodies into engine calls.
 * Register with `gateway.registerService(STEP_FUNCTIONS_TARGET, createStepFunctionsService(engine))`.
 */
import { AwsServiceError, type ServiceHandler } from '../gateway.ts';
import type { StepFunctionsEngine } from './engine.ts';

export const STEP_FUNCTIONS_TARGET = 'AWSStepFunctions';

export function createStepFunctionsService(engine: StepFunctionsEngine): ServiceHandler {
  return async (operation, body) => {
    const input = asObject(body);
    switch (operation) {
      case 'StartExecution':
        return engine.startExecution({
          stateMachineArn: str(input, 'stateMachineArn', true),
          name: str(input, 'name'),
          input: str(input, 'input'),
          traceHeader: str(input, 'traceHeader'),
        });
      case 'StartSyncExecution':
        return engine.startSyncExecution({
          stateMachineArn: str(input, 'stateMachineArn', true),
          name: str(input, 'name'),
          input: str(input, 'input'),
          traceHeader: str(input, 'traceHeader'),
        });
      case 'DescribeExecution':
        return engine.describeExecution({ executionArn: str(input, 'executionArn', true) });
      case 'ListExecutions':
        return engine.listExecutions({
          stateMachineArn: str(input, 'stateMachineArn', true),
          statusFilter: str(input, 'statusFilter'),
          maxResults: num(input, 'maxResults'),
          nextToken: str(input, 'nextToken'),
        });
      case 'StopExecution':
        return engine.stopExecution({
          executionArn: str(input, 'executionArn', true),
          error: str(input, 'error'),
          cause: str(input, 'cause'),
        });
      case 'GetExecutionHistory':
        return engine.getExecutionHistory({
          executionArn: str(input, 'executionArn', true),
          maxResults: num(input, 'maxResults'),
          reverseOrder: input.reverseOrder === true,
          nextToken: str(input, 'nextToken'),
          includeExecutionData:
            typeof input.includeExecutionData === 'boolean' ? input.includeExecutionData : true,
        });
      case 'DescribeStateMachine':
        return engine.describeStateMachine({ stateMachineArn: str(input, 'stateMachineArn', true) });
      case 'ListStateMachines':
        return engine.listStateMachines({
          maxResults: num(input, 'maxResults'),
          nextToken: str(input, 'nextToken'),
        });
      case 'SendTaskSuccess':
        return engine.sendTaskSuccess({
          taskToken: str(input, 'taskToken', true),
          output: str(input, 'output', true),
        });
      case 'SendTaskFailure':
        return engine.sendTaskFailure({
          taskToken: str(input, 'taskToken', true),
          error: str(input, 'error'),
          cause: str(input, 'cause'),
        });
      case 'SendTaskHeartbeat':
        return engine.sendTaskHeartbeat({ taskToken: str(input, 'taskToken', true) });
      case 'RedriveExecution':
        return engine.redriveExecution({
          executionArn: str(input, 'executionArn', true),
          clientToken: str(input, 'clientToken'),
        });
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally`,
        );
    }
  };
}

function asObject(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

function str(input: Record<string, unknown>, field: string, required: true): string;
function str(input: Record<string, unknown>, field: string, required?: false): string | undefined;
function str(input: Record<string, unknown>, field: string, required = false): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) {
    if (!required) return undefined;
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (typeof value !== 'string') {
    throw new AwsServiceError('ValidationException', `Value at '${field}' must be a string`);
  }
  return value;
}

function num(input: Record<string, unknown>, field: string): number | undefined {
  const value = input[field];
  return typeof value === 'number' ? value : undefined;
}
