/**
 * Builds the console with Vite (console/vite.config.ts) when console/dist is missing or older than its sources, so
 * `npm install && npm start` serves it without a build step of its own. The bundle is stamped with a hash of its
 * sources; a build goes to a directory of its own and is renamed into place, so two starts at once never serve half
 * a bundle.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');
const STAMP = '.source-hash';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** A hash of everything the bundle is built from: the page, the sources, the config and the packages' versions. */
export async function consoleSourceHash(): Promise<string> {
  const files = [
    path.join(CONSOLE_DIR, 'index.html'),
    path.join(CONSOLE_DIR, 'vite.config.ts'),
    ...(await filesUnder(path.join(CONSOLE_DIR, 'src'))),
    ...['vite', 'lit'].map((name) => path.join(CONSOLE_DIR, '..', 'node_modules', name, 'package.json')),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(await readFile(file));
  return hash.digest('hex');
}

const stampOf = (dir: string) => readFile(path.join(dir, STAMP), 'utf8').catch(() => '');

/** The directory of a current bundle, built first if needed. */
export async function ensureConsoleBuilt(log: (message: string) => void = () => {}): Promise<string> {
  const hash = await consoleSourceHash();
  if ((await stampOf(CONSOLE_DIST)) === hash) return CONSOLE_DIST;
  log('building the web console (vite build console)');
  // Vite is a development tool: loaded only when a build is due.
  const { build } = await import('vite');
  const outDir = path.join(CONSOLE_DIR, `.dist-${process.pid}-${Date.now()}`);
  try {
    await build({
      configFile: path.join(CONSOLE_DIR, 'vite.config.ts'),
      root: CONSOLE_DIR,
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
    await writeFile(path.join(outDir, STAMP), hash);
    await rm(CONSOLE_DIST, { recursive: true, force: true });
    await rename(outDir, CONSOLE_DIST).catch(async (error: unknown) => {
      // Another start renamed its build into place first: fine if it is of the same sources.
      if ((await stampOf(CONSOLE_DIST)) !== hash) throw error;
    });
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
  return CONSOLE_DIST;
}
