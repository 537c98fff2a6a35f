/** The messages between the bench and its load-generating worker thread (bench/load-worker.ts). */

export interface HttpLoadRequest {
  kind: 'http';
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** One bare `TransactWriteItems` through the document client (items in its plain-JavaScript form). */
export interface TransactLoadRequest {
  kind: 'transact';
  items: Array<Record<string, unknown>>;
}

export type LoadRequest = HttpLoadRequest | TransactLoadRequest;

export type LoadMode =
  /**
   * `concurrency` clients, each sending its next request when the previous answer arrived, until the requests
   * run out or `durationMs` has passed (then the unsent ones are dropped).
   */
  | { type: 'closed'; concurrency: number; durationMs?: number }
  /** Arrivals at a fixed rate whatever the answers do (how customers behave), `ratePerSecond` requests a second. */
  | { type: 'open'; ratePerSecond: number };

export interface LoadPlan {
  mode: LoadMode;
  requests: LoadRequest[];
  /**
   * Sent first and not recorded (closed loop, the plan's concurrency or 4): a fresh worker's HTTP client and SDK
   * are cold (connections, JIT), and the first requests would measure that instead of the system.
   */
  warmup?: LoadRequest[];
  /** Give up on a request after this long (recorded as status 0). */
  timeoutMs: number;
  /** Where transact requests go (DynamoDB Local, directly). */
  dynamodb?: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
}

export interface LoadResult {
  index: number;
  /** Epoch ms the request was meant to start (open loop) or started (closed loop). */
  scheduledAt: number;
  /** Epoch ms the request was sent. */
  sentAt: number;
  latencyMs: number;
  /** HTTP status; 200 for a transaction that committed; 0 for a timeout or network error. */
  status: number;
  /** Response body (first 2 KB) or the error's name and message. */
  body: string;
  /** The `Retry-After` header of a 429 (the per-client rate limit's answer). */
  retryAfter?: string;
}

export interface LoadRun {
  startedAt: number;
  /** From the first send to the last answer. */
  wallMs: number;
  results: LoadResult[];
}
