/** How Buzzer's app is synthesized for the local runtime, and where its EXPRESS variant lives. */
import { type SynthOptions, synthesize } from '#local/synth.ts';

/**
 * Where the tools that need the saga as an EXPRESS workflow (bench's cost section, chaos profiles `express` and
 * `harsh`, test/e2e/express.test.ts) keep that variant of the app, beside the STANDARD `cdk.out`, relative to the
 * project root. They all synthesize it with `EXPRESS_CONTEXT`, so they share one cached synthesis.
 */
export const EXPRESS_CDK_OUT = '.buzzer/cdk.out-express';
export const EXPRESS_CONTEXT: Readonly<Record<string, string>> = { workflowType: 'EXPRESS' };

/**
 * Where the REST flavour of the client API (`-c apiFlavour=rest`: API Gateway REST API with usage plans) is kept for
 * the local runtime (test/e2e/rest-api.local.test.ts, `npm start -- --api rest`), relative to the project root.
 */
export const REST_CDK_OUT = '.buzzer/cdk.out-rest';
export const REST_CONTEXT: Readonly<Record<string, string>> = { apiFlavour: 'rest' };

/**
 * Where the burst mail variant (`-c mailService=burst`, case 3 of the burst bench) is synthesized, beside `cdk.out`:
 * the bench's burst section and test/e2e/mail-service.test.ts share it (one cached synthesis, by the synth stamp).
 */
export const MAILBURST_CDK_OUT = '.buzzer/cdk.out-mailburst';
export const MAILBURST_CONTEXT: Readonly<Record<string, string>> = { mailService: 'burst' };

/**
 * Where the synchronous order flow (`-c orderFlow=sync`: `POST /orders` served within the request, case 1 of the
 * burst bench) is synthesized, beside `cdk.out`; test/e2e/order-flow-sync.test.ts synthesizes it there.
 */
export const SYNC_CDK_OUT = '.buzzer/cdk.out-sync';
export const SYNC_CONTEXT: Readonly<Record<string, string>> = { orderFlow: 'sync' };

/** A variant of the stack `npm start` can run, by its flag: `--api rest`, `--order-flow sync`, `--mail-service burst`. */
export const LOCAL_VARIANTS = [
  { context: REST_CONTEXT, cdkOut: REST_CDK_OUT },
  { context: SYNC_CONTEXT, cdkOut: SYNC_CDK_OUT },
  { context: MAILBURST_CONTEXT, cdkOut: MAILBURST_CDK_OUT },
] as const;

/** Where variants chosen together are synthesized (the synth stamp holds the context, so any mix re-synthesizes). */
export const MIXED_VARIANTS_CDK_OUT = '.buzzer/cdk.out-variants';

/**
 * The cloud assembly `npm start` uses for a synthesis context when no `--cdk-out` is given: each variant keeps the one
 * the tests and the bench synthesize too, so switching variants does not synthesize the default one again.
 */
export function cdkOutForContext(context: Readonly<Record<string, string>>, fallback = 'cdk.out'): string {
  const chosen = LOCAL_VARIANTS.filter((variant) =>
    Object.entries(variant.context).every(([key, value]) => context[key] === value),
  );
  if (chosen.length > 1) return MIXED_VARIANTS_CDK_OUT;
  return chosen[0]?.cdkOut ?? fallback;
}

/**
 * Locally the sandbox is the payment provider and mail sink (there is no other on a laptop), so local synthesis opts
 * into it unless the context names a real provider. Every local caller (runtime, tests, bench, chaos) synthesizes
 * with this context, so they share one context and one cdk.out stamp.
 */
export function localContext(context: Record<string, string> = {}): Record<string, string> {
  return context.paymentProviderUrl ? context : { sandbox: 'true', ...context };
}

/** `cdk synth` of Buzzer for the local runtime (skipped when nothing changed); returns whether it synthesized. */
export function synthesizeBuzzer(options: SynthOptions): Promise<boolean> {
  return synthesize({ ...options, context: localContext(options.context) });
}
