/**
 * What the client API promises that both the stack and the handlers must agree on.
 */

/**
 * The longest `Prefer: wait=N` (RFC 7240) the order routes honour, in seconds; a larger N is served as this. A
 * waiting request holds a Lambda execution environment (one unit of the account's concurrency) for the whole wait,
 * so the cap bounds what one client can tie up; 10 s covers a saga on a healthy provider (well under a second) and a
 * slow payment (the sandbox's slowest answer that still succeeds takes 1 s, a real provider a few), while anything
 * slower is better followed by polling or a webhook. The two functions' timeouts (lib/constructs/api.ts) are sized
 * from it, and they must stay under the HTTP API's 30 s integration limit.
 */
export const PREFER_WAIT_MAX_SECONDS = 10;
