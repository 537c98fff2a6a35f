/**
 * S3 on the file system: s3rver (the most used S3 server on the npm registry) on 127.0.0.1, with the objects under
 * the runtime's data directory (`<persistDir>/s3`, kept across restarts) or a temporary directory removed at stop.
 * The functions reach it through `AWS_ENDPOINT_URL_S3` in path style, signing with the runtime's local credentials,
 * which s3rver is told to accept.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import accounts from 's3rver/lib/models/account.js';
import type { RuntimeLogger } from '../types.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LOOPBACK } from './ports.ts';

export interface S3Engine {
  endpoint: string;
  /** Where the buckets' objects are on disk: `<directory>/<bucket>/<key>`. */
  directory: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3(options: { persistDir?: string; logger: RuntimeLogger }): Promise<S3Engine> {
  const directory = options.persistDir ?? (await mkdtemp(path.join(tmpdir(), 'buzzer-s3-')));
  await mkdir(directory, { recursive: true });
  accounts.DUMMY_ACCOUNT.createKeyPair(LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey);
  const server = new S3rver({ address: LOOPBACK, port: 0, directory, silent: true });
  const { port } = await server.run();
  const endpoint = `http://${LOOPBACK}:${port}`;
  options.logger.debug('s3: s3rver listening', { endpoint, directory });
  return {
    endpoint,
    directory,
    async createBucket(name) {
      await server.store.putBucket(name);
    },
    async stop() {
      await server.close();
      if (!options.persistDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
