/**
 * One delivery message, start to end: claim the attempt, re-check the endpoint and its URL, sign, send, log the
 * attempt and decide what comes next (retry.ts): delivered, retried later, parked in the DLQ, or the endpoint
 * disabled. Every step is safe to repeat, because SQS may hand the same message over twice and a worker may die
 * anywhere (deliveries.ts explains the attempt tokens).
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { WEBHOOK_DELIVERY_OUTCOMES } from '#contracts/metrics.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import {
  type CircuitPolicy,
  circuitState,
  DEFAULT_CIRCUIT_POLICY,
  heldUntil,
  isSlowAnswer,
} from './circuit.ts';
import {
  type AttemptSummary,
  attemptMessage,
  claimAttempt,
  type DeliveryRecord,
  finishDelivery,
  recordAttempt,
  reopenDelivery,
  scheduleAttempt,
} from './deliveries.ts';
import {
  activeSecrets,
  claimProbe,
  disableEndpoint,
  markEndpointFailing,
  markEndpointHealthy,
  markEndpointSlow,
  migrateLegacySecrets,
} from './endpoint-lifecycle.ts';
import { type EndpointRecord, getEndpoint } from './endpoints.ts';
import { type DeliveryMessage, type DeliveryQueue, enqueueDelivery } from './messages.ts';
import { classifyAttempt, decideNext, endpointFailingTooLong, type RetryDecision } from './retry.ts';
import type { SecretBox } from './secret-box.ts';
import type { SendWebhook, WebhookResponse } from './sender.ts';
import { signPayload } from './signing.ts';
import { type AssertPublicUrlOptions, assertPublicUrl, UnsafeWebhookUrl } from './ssrf.ts';

/** A message this close to its due time is run now rather than sent on another hop. */
const EARLY_TOLERANCE_MS = 500;
const USER_AGENT = 'Buzzer-Webhooks/1.0';
const MAX_ERROR_LENGTH = 300;
/** A probe's hold on a half-open circuit outlasts its request by this much (signing, logging, a slow write). */
const PROBE_MARGIN_MS = 5_000;

export interface DispatchDeps extends TableDeps {
  /** Opens the endpoints' sealed secrets (and seals legacy plaintext ones). */
  secretBox: SecretBox;
  queue: DeliveryQueue;
  /** Where deliveries that used up their attempts are parked (the delivery queue's DLQ). */
  deadLetterQueueUrl: string;
  send: SendWebhook;
  urlPolicy: AssertPublicUrlOptions;
  /** Delay before each attempt in ms (retry.ts RETRY_SCHEDULE_MS unless configured). */
  schedule: readonly number[];
  timeoutMs: number;
  /** @default DEFAULT_CIRCUIT_POLICY */
  circuit?: CircuitPolicy;
  random?: () => number;
  clock?: () => Date;
}

/** The outcomes, with what each means, are listed in the contracts: `WebhookDeliveries` counts them. */
export type DispatchOutcome = (typeof WEBHOOK_DELIVERY_OUTCOMES)[number];

export interface DispatchResult {
  outcome: DispatchOutcome;
  deliveryId: string;
  attempt: number;
  statusCode?: number;
  error?: string;
  nextAttemptAt?: string;
}

/** Another worker is running this very attempt; the message comes back after its visibility timeout. */
export class DeliveryInProgress extends Error {
  override name = 'DeliveryInProgress';
  constructor(deliveryId: string, attempt: number) {
    super(`attempt ${attempt} of ${deliveryId} is being made by another worker`);
  }
}

/** `receiveCount` is the message's ApproximateReceiveCount: above 1, an earlier run of it did not finish. */
export async function dispatchDelivery(
  deps: DispatchDeps,
  message: DeliveryMessage,
  receiveCount: number,
): Promise<DispatchResult> {
  const clock = deps.clock ?? (() => new Date());
  const now = clock();
  const result = (outcome: DispatchOutcome, extra: Partial<DispatchResult> = {}): DispatchResult => ({
    outcome,
    deliveryId: message.deliveryId,
    attempt: message.attempt,
    ...extra,
  });

  if (message.kind === 'replay') {
    const reopened = await reopenDelivery(deps, message, now);
    if (!reopened) return result('stale');
    await enqueueDelivery(deps.queue, reopened, now);
    return result('replayed');
  }
  if (Date.parse(message.notBefore) - now.getTime() > EARLY_TOLERANCE_MS) {
    await enqueueDelivery(deps.queue, message, now);
    return result('deferred', { nextAttemptAt: message.notBefore });
  }

  const claim = await claimAttempt(deps, message, now);
  switch (claim.kind) {
    case 'missing':
      return result('missing');
    case 'stale':
      return result('stale');
    case 'in_progress':
      throw new DeliveryInProgress(message.deliveryId, message.attempt);
    case 'scheduled_by_this':
      // A first receive means a duplicate send of this message, whose original already scheduled the next one.
      if (receiveCount <= 1) return result('stale');
      await enqueueDelivery(deps.queue, attemptMessage(claim.record), now);
      return result('rescheduled', { nextAttemptAt: claim.record.nextAttemptAt });
    case 'claimed':
      break;
  }
  const record = claim.record;

  const endpoint = await getEndpoint(deps, record.clientId, record.webhookId);
  if (!endpoint) {
    await finishDelivery(deps, message, 'CANCELLED', { error: 'endpoint deleted' }, now);
    return result('endpoint_deleted');
  }
  if (endpoint.status === 'DISABLED') {
    const error = `endpoint disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`;
    await finishDelivery(deps, message, 'FAILED', { error }, now);
    return result('endpoint_disabled', { error });
  }

  const policy = deps.circuit ?? DEFAULT_CIRCUIT_POLICY;
  const held = await holdWhileCircuitOpen(deps, endpoint, record, message, now, policy);
  if (held) return result('held', { nextAttemptAt: held.notBefore });

  const started = clock();
  const response = await attempt(deps, endpoint, record, started);
  const finished = clock();
  const outcome = classifyAttempt(response.result, finished);
  let decision: RetryDecision = decideNext(
    record.attempt,
    outcome,
    deps.random ?? Math.random,
    deps.schedule,
  );
  const summary = summarize(response);

  // The failing streak is tracked per endpoint, so five days of failures disable it whatever the single delivery.
  // A delivery out of attempts is still parked (give_up) and disables the endpoint besides; one that would have
  // been retried stops here as FAILED, to be replayed when the endpoint is enabled again.
  let disableForFailing: string | undefined;
  if (decision.action === 'retry' || decision.action === 'give_up') {
    const streak = await markEndpointFailing(deps, record.clientId, record.webhookId, policy, finished);
    if (streak && endpointFailingTooLong(streak.since, finished)) {
      disableForFailing = `failing_since:${streak.since.toISOString()}`;
      if (decision.action === 'retry') decision = { action: 'disable_endpoint', reason: disableForFailing };
    }
  }
  const nextAttemptAt =
    decision.action === 'retry' ? new Date(finished.getTime() + decision.delayMs) : undefined;

  await recordAttempt(deps, {
    deliveryId: record.deliveryId,
    webhookId: record.webhookId,
    eventType: record.eventType,
    orderId: record.orderId,
    attempt: record.attempt,
    at: started,
    durationMs: response.durationMs,
    outcome: decision.action === 'done' ? 'succeeded' : 'failed',
    ...summary,
    ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}),
  });

  switch (decision.action) {
    case 'done':
      await finishDelivery(deps, message, 'DELIVERED', summary, finished);
      if (isSlowAnswer(response.durationMs, deps.timeoutMs, policy)) {
        await markEndpointSlow(deps, record.clientId, record.webhookId, policy, finished);
      } else if (
        endpoint.failingSince !== undefined ||
        endpoint.circuitOpenUntil !== undefined ||
        endpoint.slowSince !== undefined
      ) {
        await markEndpointHealthy(deps, record.clientId, record.webhookId);
      }
      return result('delivered', summary);
    case 'disable_endpoint': {
      await disableEndpoint(deps, record.clientId, record.webhookId, decision.reason, finished);
      const error = `endpoint disabled (${decision.reason})${summary.error ? `: ${summary.error}` : ''}`;
      await finishDelivery(deps, message, 'FAILED', { ...summary, error }, finished);
      return result('endpoint_disabled', { ...summary, error });
    }
    case 'give_up':
      // Parked first, marked second: a crash in between repeats the last attempt rather than losing the parking.
      await deps.queue.sqs.send(
        new SendMessageCommand({
          QueueUrl: deps.deadLetterQueueUrl,
          MessageBody: JSON.stringify({ ...message, kind: 'replay', reason: decision.reason }),
        }),
      );
      await finishDelivery(deps, message, 'FAILED', summary, finished);
      if (disableForFailing) {
        await disableEndpoint(deps, record.clientId, record.webhookId, disableForFailing, finished);
      }
      return result('gave_up', summary);
    case 'retry': {
      const next = await scheduleAttempt(
        deps,
        record,
        { attempt: decision.attempt, notBefore: nextAttemptAt ?? finished, previousToken: message.token },
        summary,
        finished,
      );
      await enqueueDelivery(deps.queue, next, finished);
      return result('retry_scheduled', { ...summary, nextAttemptAt: next.notBefore });
    }
  }
}

/**
 * While the endpoint's circuit is open, puts the delivery back on the queue for after the cooldown (same attempt
 * number, new token) and returns the message that carries it. When the cooldown is over, the one worker that claims
 * the probe sends; the others hold their deliveries until the probe's outcome is known. Undefined: send now.
 */
async function holdWhileCircuitOpen(
  deps: DispatchDeps,
  endpoint: EndpointRecord,
  record: DeliveryRecord,
  message: DeliveryMessage,
  now: Date,
  policy: CircuitPolicy,
): Promise<DeliveryMessage | undefined> {
  const seen = endpoint.circuitOpenUntil;
  if (seen === undefined) return undefined;
  let until: Date;
  if (circuitState(seen, now) === 'open') {
    until = new Date(seen);
  } else {
    const probeUntil = new Date(now.getTime() + deps.timeoutMs + PROBE_MARGIN_MS);
    if (await claimProbe(deps, record.clientId, record.webhookId, seen, probeUntil)) return undefined;
    until = probeUntil;
  }
  const next = await scheduleAttempt(
    deps,
    record,
    {
      attempt: record.attempt,
      notBefore: heldUntil(until, policy, deps.random ?? Math.random),
      previousToken: message.token,
    },
    { statusCode: record.lastStatusCode, error: record.lastError },
    now,
  );
  await enqueueDelivery(deps.queue, next, now);
  return next;
}

/** Validates the URL again (DNS may have changed since registration), signs with every active secret and sends. */
async function attempt(
  deps: DispatchDeps,
  endpoint: EndpointRecord,
  record: DeliveryRecord,
  now: Date,
): Promise<WebhookResponse> {
  // Opened before the attempt's deadline starts: KMS is ours, the deadline is the receiver's.
  const secrets = await signingSecrets(deps, endpoint, now);
  return attemptDelivery(
    deps,
    { url: endpoint.url, deliveryId: record.deliveryId, body: record.body, secrets },
    now,
  );
}

/**
 * The active secrets in plain text. Sealed ones are opened with the endpoint's own encryption context; plaintext ones
 * (an endpoint from before sealing) are used once more and sealed now, so the table stops holding them. A failed
 * migration does not fail the delivery: the next one tries again.
 */
async function signingSecrets(deps: DispatchDeps, endpoint: EndpointRecord, now: Date): Promise<string[]> {
  const owner = { clientId: endpoint.clientId, webhookId: endpoint.webhookId };
  if (endpoint.sealedSecrets) {
    const sealed = activeSecrets(endpoint.sealedSecrets, endpoint.previousSecretExpiresAt, now);
    return Promise.all(sealed.map((secret) => deps.secretBox.open(secret, owner)));
  }
  try {
    await migrateLegacySecrets(deps, endpoint);
  } catch (error) {
    logger.warn('sealing plaintext webhook secrets failed; the next delivery tries again', {
      webhookId: endpoint.webhookId,
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return activeSecrets(endpoint.secrets ?? [], endpoint.previousSecretExpiresAt, now);
}

export interface AttemptTarget {
  url: string;
  deliveryId: string;
  /** The exact bytes to send and sign. */
  body: string;
  /** The active secrets in plain text, newest first. */
  secrets: readonly string[];
}

/**
 * One attempt under one deadline of `timeoutMs`: resolving the name, connecting, TLS and the answer all spend the
 * same budget, so a tenant's name server that never answers costs one attempt's timeout, not the whole batch's.
 */
export async function attemptDelivery(
  deps: Pick<DispatchDeps, 'send' | 'urlPolicy' | 'timeoutMs'>,
  target: AttemptTarget,
  now: Date,
): Promise<WebhookResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const signal = AbortSignal.timeout(deps.timeoutMs);
  let checked: Awaited<ReturnType<typeof assertPublicUrl>>;
  try {
    checked = await assertPublicUrl(target.url, { ...deps.urlPolicy, signal });
  } catch (error) {
    if (!(error instanceof UnsafeWebhookUrl)) throw error;
    if (error.reason === 'resolution_timed_out') {
      return {
        result: { type: 'timeout' },
        durationMs: elapsed(),
        error: `no answer within ${deps.timeoutMs} ms (the host name did not resolve)`,
      };
    }
    // The attempt log is shown to the client: it gets the message, our log gets what DNS answered.
    logger.warn('webhook not sent: unsafe url', {
      deliveryId: target.deliveryId,
      reason: error.reason,
      detail: error.detail,
    });
    // Not sent. Retried like a network error: a name that resolves privately now may resolve publicly later.
    return {
      result: { type: 'network_error', code: `UNSAFE_URL_${error.reason.toUpperCase()}` },
      durationMs: 0,
      error: `not sent: ${error.message}`,
    };
  }
  const resolvedIn = elapsed();
  const signature = signPayload({
    id: target.deliveryId,
    timestamp: now,
    body: target.body,
    secrets: target.secrets,
  });
  const response = await deps.send({
    url: checked.url,
    addresses: checked.addresses,
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signature },
    body: target.body,
    timeoutMs: deps.timeoutMs,
    signal,
  });
  // Time spent resolving counts towards a slow answer too (circuit.ts): it held the slot just the same.
  return { ...response, durationMs: response.durationMs + resolvedIn };
}

function summarize(response: WebhookResponse): AttemptSummary {
  if (response.result.type === 'response') {
    const { status } = response.result;
    const ok = status >= 200 && status <= 299;
    const snippet = response.responseSnippet?.slice(0, MAX_ERROR_LENGTH);
    return ok
      ? { statusCode: status }
      : { statusCode: status, error: `HTTP ${status}${snippet ? `: ${snippet}` : ''}` };
  }
  return { error: (response.error ?? response.result.type).slice(0, MAX_ERROR_LENGTH) };
}
