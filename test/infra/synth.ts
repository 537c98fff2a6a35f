import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BuzzerStack, type BuzzerStackProps } from '#lib/buzzer-stack.ts';

export interface NagViolation {
  ruleName: string;
  violatingConstructs: Array<{ constructPath: string }>;
}

export interface NagReport {
  violations: NagViolation[];
  suppressedViolations: Array<NagViolation & { reason: string }>;
}

export interface SynthResult {
  stack: BuzzerStack;
  template: Template;
  nag: NagReport;
}

/** The context of cdk.json (the feature flags above all): what `cdk synth` and `cdk deploy` give the app. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

export interface SynthOptions {
  /**
   * Bundle every function with esbuild, as `cdk synth` does. Off by default: bundling is about two thirds of a synth's
   * time and changes nothing in the template but the assets' hashes. One synth of the infra project bundles
   * (test/infra/stack.test.ts), so a handler that esbuild cannot bundle fails there; the e2e project's global setup
   * bundles again with `cdk synth` and runs the bundles. @default false
   */
  bundle?: boolean;
}

/** A stand-in for the built console (console/dist), so the static site is synthesized without a Vite build. */
export const CONSOLE_DIST_FIXTURE = fileURLToPath(new URL('../fixtures/console-dist', import.meta.url));

/**
 * Synthesized stacks by their props, per loaded copy of the stack's module (the key): the infra project runs its files
 * in one process per worker (vitest.config.ts, `isolate: false`), and seven of them assert on the same default
 * stack, which took a synthesis each. Kept on `globalThis`, which outlives a test file's module registry; a file that
 * resets the registry (`vi.resetModules`) loads a new BuzzerStack class, and so misses rather than gets a stack whose
 * constructs are not `instanceof` its classes. A bundled synthesis is never shared (stack.test.ts makes the one).
 */
const SHARED_SYNTHS = Symbol.for('buzzer.infra.synths');
type SynthCache = WeakMap<typeof BuzzerStack, Map<string, SynthResult>>;
const shared = globalThis as { [SHARED_SYNTHS]?: SynthCache };
shared[SHARED_SYNTHS] ??= new WeakMap();
const synthCache: SynthCache = shared[SHARED_SYNTHS];

/**
 * Synthesizes the stack the way `cdk synth` does, with the cdk-nag AwsSolutions pack, into a temp directory (with the
 * sandbox and the console's static site unless `props` say otherwise). Unbundled syntheses of the same props are
 * shared by the files of a worker (see above): callers only read them.
 */
export function synthBuzzer(props: BuzzerStackProps = {}, options: SynthOptions = {}): SynthResult {
  const stackProps: BuzzerStackProps = { sandbox: true, consoleDist: CONSOLE_DIST_FIXTURE, ...props };
  if (options.bundle) return synthesize(stackProps, true);
  const byProps = synthCache.get(BuzzerStack) ?? new Map<string, SynthResult>();
  synthCache.set(BuzzerStack, byProps);
  const key = JSON.stringify(stackProps);
  const cached = byProps.get(key);
  if (cached) return cached;
  const result = synthesize(stackProps, false);
  byProps.set(key, result);
  return result;
}

function synthesize(props: BuzzerStackProps, bundle: boolean): SynthResult {
  const outdir = mkdtempSync(path.join(tmpdir(), 'buzzer-synth-'));
  const context = bundle ? CDK_JSON_CONTEXT : { ...CDK_JSON_CONTEXT, [BUNDLING_STACKS]: [] };
  const app = new App({ outdir, context });
  const stack = new BuzzerStack(app, 'Buzzer', props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  const template = Template.fromJSON(
    JSON.parse(readFileSync(path.join(outdir, 'Buzzer.template.json'), 'utf8')),
  );
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ pluginName: string } & NagReport>;
  };
  const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
  if (!nag) throw new Error('cdk-nag AwsSolutions did not report');
  return { stack, template, nag };
}

/**
 * Runs the CDK app (`bin/app.ts`) as `cdk synth` would, with `context` as its whole context, into a fresh directory:
 * for the tests that a bad setting stops the synth with its message alone on stderr.
 */
export function synthApp(context: Record<string, unknown>): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: path.resolve(import.meta.dirname, '..', '..'),
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: mkdtempSync(path.join(tmpdir(), 'buzzer-app-')),
      CDK_CONTEXT_JSON: JSON.stringify(context),
    },
    timeout: 60_000,
  });
}
