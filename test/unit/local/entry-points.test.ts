/**
 * The developer-facing entry points answer `--help` with every flag the README promises. Spawned as a developer runs
 * them (tsx), so a flag that is read but never declared, or a declaration that does not parse, shows up here.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function help(entry: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', entry, '--help'], {
    cwd: PROJECT_ROOT,
  });
  return stdout;
}

describe('entry points', () => {
  it('npm start -- --help lists the runtime flags', async () => {
    const text = await help('bin/local.ts');

    for (const flag of [
      '--port',
      '--persist',
      '--workflow-type',
      '--no-synth',
      '--payment-latency',
      '--payment-failure-rate',
      '--mail-broken',
      '--allow-loopback-webhooks',
      '--lambda-concurrency',
      '--idle-timeout',
      '--reconcile-every',
    ]) {
      expect(text).toContain(flag);
    }
  });

  it('npm run chaos -- --help lists the profiles, flags and exit codes', async () => {
    const text = await help('bin/chaos.ts');

    for (const part of [
      '--orders',
      '--concurrency',
      '--profile',
      '--seed',
      '--attach',
      '--lambda-concurrency',
      '--json',
      'harsh',
      'express',
      'workflowType=EXPRESS',
      'Exit code',
    ]) {
      expect(text).toContain(part);
    }
  });
});
