import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface TableDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

/**
 * The module-level client every function shares (created once per execution environment). No endpoint
 * here: locally the SDK reads `AWS_ENDPOINT_URL_DYNAMODB`.
 */
export const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

export interface CancellationReason {
  Code?: string;
  Message?: string;
  Item?: Record<string, unknown>;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * The per-item reasons of a cancelled transaction, in the order of `TransactItems`, or undefined when
 * the error is not a cancellation. Matching on the name (not `instanceof`) keeps working when a bundle
 * holds two copies of the SDK.
 */
export function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (errorName(error) !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: unknown }).CancellationReasons;
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : [];
}

export function reasonCode(reasons: CancellationReason[], index: number): string | undefined {
  const code = reasons[index]?.Code;
  return code === 'None' ? undefined : code;
}

export function hasReason(reasons: CancellationReason[], code: string): boolean {
  return reasons.some((reason) => reason.Code === code);
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
