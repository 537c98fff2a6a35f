/**
 * The one price table of the cost model: AWS list prices for us-east-1 in US dollars, on-demand, without free
 * tiers or volume discounts. Change a price here and nowhere else; the report prints this table with its date.
 */

export interface PriceTable {
  asOf: string;
  region: string;
  source: string;
  /** HTTP API requests (first 300 M per month). */
  httpApiPerMillionRequests: number;
  lambdaPerMillionRequests: number;
  /** Lambda duration on arm64 (the stack's architecture). */
  lambdaPerGbSecondArm64: number;
  dynamodbPerMillionWriteUnits: number;
  dynamodbPerMillionReadUnits: number;
  /** Custom events put on a bus; each 64 KB chunk of an entry is one event. */
  eventBridgePerMillionEvents: number;
  /** Standard queues; a batch of up to 10 messages is one request, each 64 KB chunk of a payload is one request. */
  sqsPerMillionRequests: number;
  stepFunctionsStandardPerThousandTransitions: number;
  stepFunctionsExpressPerMillionRequests: number;
  /** Express duration, first 1,000 GB-hours per month. */
  stepFunctionsExpressPerGbSecond: number;
  /** Express bills memory in 64 MB chunks and duration rounded up to 100 ms. */
  stepFunctionsExpressMemoryMb: number;
  stepFunctionsExpressDurationStepMs: number;
}

export const PRICES: PriceTable = {
  asOf: '2026-11-22',
  region: 'us-east-1',
  source:
    'Buzzer design brief, "Published figures worth knowing"; Step Functions Express ' +
    'duration price and its 64 MB / 100 ms billing steps from the AWS Step Functions pricing page (cross-checked: ' +
    'the AWS Step Functions workshop prices 100 ms of a 64 MB Express execution at $0.0000001042 = $0.00001667 ' +
    'per GB-s)',
  httpApiPerMillionRequests: 1.0,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecondArm64: 0.0000133334,
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
  eventBridgePerMillionEvents: 1.0,
  sqsPerMillionRequests: 0.4,
  stepFunctionsStandardPerThousandTransitions: 0.025,
  stepFunctionsExpressPerMillionRequests: 1.0,
  stepFunctionsExpressPerGbSecond: 0.00001667,
  stepFunctionsExpressMemoryMb: 64,
  stepFunctionsExpressDurationStepMs: 100,
};
