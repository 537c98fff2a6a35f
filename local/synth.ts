import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { RuntimeLogger } from '#local/types.ts';

/**
 * The files whose content decides the synthesized template and its bundles: the operator API's bundle holds the
 * operator CLI's code (ops/), and the console's static site the console's.
 */
const INPUTS = [
  'bin',
  'lib',
  'functions',
  'contracts',
  'ops',
  'console/src',
  'console/index.html',
  'console/vite.config.ts',
  'package-lock.json',
  'cdk.json',
  'tsconfig.json',
];
const STAMP = '.buzzer-synth-stamp';

export interface SynthOptions {
  projectRoot: string;
  outdir: string;
  /** CDK context values (`-c key=value`), e.g. `{ workflowType: 'EXPRESS' }`. */
  context?: Record<string, string>;
  /** Synthesize even when nothing changed since the last run. */
  force?: boolean;
  logger: RuntimeLogger;
}

async function listFiles(root: string, rel: string): Promise<string[]> {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return [];
  const entries = await readdir(abs, { withFileTypes: true, recursive: true }).catch(() => null);
  if (entries === null) return [rel];
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

/** A digest of every input file and the context, so an unchanged app is not synthesized (and bundled) again. */
export async function synthInputsDigest(
  projectRoot: string,
  context: Record<string, string> = {},
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(context));
  for (const input of INPUTS) {
    for (const file of await listFiles(projectRoot, input)) {
      hash.update(file);
      hash.update(await readFile(path.join(projectRoot, file)));
    }
  }
  return hash.digest('hex');
}

/**
 * Runs `cdk synth` (the pinned CLI, the same command that precedes a deploy) into `outdir`, unless the inputs are
 * unchanged since the last synthesis there. Returns whether it synthesized.
 */
export async function synthesize(options: SynthOptions): Promise<boolean> {
  const context = options.context ?? {};
  const digest = await synthInputsDigest(options.projectRoot, context);
  const stampPath = path.join(options.outdir, STAMP);
  if (!options.force && existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === digest) {
    options.logger.debug('template up to date, not synthesizing', { outdir: options.outdir });
    return false;
  }
  const cdk = path.join(options.projectRoot, 'node_modules', '.bin', 'cdk');
  // No notices or telemetry: both reach out to the internet, which a laptop offline or CI may not have.
  const args = ['synth', '--quiet', '--no-notices', '--output', options.outdir];
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`);
  options.logger.info('synthesizing the CDK app', {
    outdir: path.relative(options.projectRoot, options.outdir),
  });
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(cdk, args, {
      cwd: options.projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`cdk synth failed (exit ${code}):\n${output.join('').slice(-4000)}`);
  }
  await writeFile(stampPath, digest);
  return true;
}
