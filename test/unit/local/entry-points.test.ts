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

const ENTRY_POINTS = [
  {
    name: 'npm start -- --help lists the runtime flags',
    bin: 'bin/local.ts',
    parts: [
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
    ],
  },
  {
    name: 'npm run chaos -- --help lists the profiles, flags and exit codes',
    bin: 'bin/chaos.ts',
    parts: [
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
    ],
  },
];

describe('entry points', () => {
  it.each(ENTRY_POINTS)('$name', async ({ bin, parts }) => {
    const text = await help(bin);

    for (const part of parts) {
      expect(text).toContain(part);
    }
  });
});
