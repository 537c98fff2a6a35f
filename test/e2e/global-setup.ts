import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from '#console/server/build.ts';
import {
  EXPRESS_CDK_OUT,
  EXPRESS_CONTEXT,
  REST_CDK_OUT,
  REST_CONTEXT,
  synthesizeBuzzer,
} from '#local/buzzer/synth.ts';
import { consoleLogger } from '#local/logging.ts';

/**
 * Synthesizes the app once for every e2e file (each then starts its own runtime from cdk.out), its EXPRESS variant
 * for the files that run the saga as EXPRESS (chaos, express), and its REST flavour of the client API for the API
 * scenarios run on it (rest-api.local.test.ts). All at once: cdk synth mostly uses one core.
 */
export default async function setup(): Promise<void> {
  if ((process.env.BUZZER_TARGET ?? 'local') !== 'local') return;
  // Both e2e projects (`e2e`, and `e2e-chaos` after it) name this setup, and vitest may run their setups at once and
  // load this module once per project: one promise on the process, so one run synthesizes once.
  const shared = globalThis as { buzzerE2eSynthesis?: Promise<void> };
  shared.buzzerE2eSynthesis ??= synthesizeAll();
  await shared.buzzerE2eSynthesis;
}

async function synthesizeAll(): Promise<void> {
  const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const logger = consoleLogger('warn');
  // Each synthesis ships the console's static site and builds it when console/dist is missing or stale (a fresh
  // clone): built once here, before them, rather than by each of the three at once.
  await ensureConsoleBuilt();
  await Promise.all([
    synthesizeBuzzer({ projectRoot, outdir: path.join(projectRoot, 'cdk.out'), logger }),
    synthesizeBuzzer({
      projectRoot,
      outdir: path.join(projectRoot, EXPRESS_CDK_OUT),
      context: { ...EXPRESS_CONTEXT },
      logger,
    }),
    synthesizeBuzzer({
      projectRoot,
      outdir: path.join(projectRoot, REST_CDK_OUT),
      context: { ...REST_CONTEXT },
      logger,
    }),
  ]);
}
