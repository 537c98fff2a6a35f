import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleLogger } from '#local/logging.ts';
import { synthesize } from '#local/synth.ts';

/** Synthesizes the app once for every e2e file (each then starts its own runtime from cdk.out). */
export default async function setup(): Promise<void> {
  if ((process.env.BUZZER_TARGET ?? 'local') !== 'local') return;
  const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  await synthesize({ projectRoot, outdir: path.join(projectRoot, 'cdk.out'), logger: consoleLogger('warn') });
}
