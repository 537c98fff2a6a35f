import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writePrivateFile } from '#local/private-file.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'buzzer-private-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

describe('writePrivateFile (.buzzer/runtime.json holds API keys)', () => {
  it('creates the file 0600 and its missing directory 0700', async () => {
    const file = join(root, '.buzzer', 'runtime.json');

    await writePrivateFile(file, '{"apiKeys":{"demo":"bz_secret"}}\n');

    expect(await readFile(file, 'utf8')).toBe('{"apiKeys":{"demo":"bz_secret"}}\n');
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(join(root, '.buzzer'))).toBe(0o700);
  });

  it('replaces a world-readable file left by an older run with a 0600 one and leaves no temporary file', async () => {
    const file = join(root, 'runtime.json');
    await writeFile(file, 'old', { mode: 0o644 });
    expect(await modeOf(file)).toBe(0o644);

    await writePrivateFile(file, 'new');

    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await modeOf(file)).toBe(0o600);
    expect(await readdir(root)).toEqual(['runtime.json']);
  });
});
