import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Writes a file only its owner may read or write (0600; a directory it has to create is 0700): the runtime's
 * discovery file holds API keys and credentials. `writeFile`'s `mode` applies only when it creates the file, so an
 * older world-readable copy would keep its mode; writing a fresh file and renaming it over the old one avoids that
 * and means a reader never sees half a file.
 */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const directory = path.dirname(file);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const temporary = path.join(directory, `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
