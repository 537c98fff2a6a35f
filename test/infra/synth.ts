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
 * Synthesizes the stack the way `cdk synth` does, with the cdk-nag AwsSolutions pack, into a temp directory (with the
 * sandbox and the console's static site unless `props` say otherwise).
 */
export function synthBuzzer(props: BuzzerStackProps = {}, options: SynthOptions = {}): SynthResult {
  const outdir = mkdtempSync(path.join(tmpdir(), 'buzzer-synth-'));
  const context = options.bundle ? CDK_JSON_CONTEXT : { ...CDK_JSON_CONTEXT, [BUNDLING_STACKS]: [] };
  const app = new App({ outdir, context });
  const stack = new BuzzerStack(app, 'Buzzer', {
    sandbox: true,
    consoleDist: CONSOLE_DIST_FIXTURE,
    ...props,
  });
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
