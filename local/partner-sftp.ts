/**
 * A settlement partner's SFTP server for the local runtime and the e2e suite: ssh2's server on 127.0.0.1 with a host
 * key generated at start, one user who logs in with a generated key pair, and an SFTP subsystem over one folder (the
 * partner's inbox on disk). It answers what an upload needs (open, write, close, stat, remove, rename, realpath,
 * mkdir, opendir/readdir) and nothing else; paths cannot leave the folder. `failUploads(n)` makes the next n uploads
 * drop the connection midway through their first write, half of it on the disk.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import ssh2 from 'ssh2';
import { LOOPBACK } from '#local/engines/ports.ts';
import type { RuntimeLogger } from '#local/types.ts';

const { Server, utils } = ssh2;
const { STATUS_CODE, OPEN_MODE } = utils.sftp;

export interface PartnerSftpServer {
  host: string;
  port: number;
  username: string;
  /** The client's private key (OpenSSH format): what goes into the partner's secret. */
  privateKey: string;
  /** `SHA256:…` of the server's host key: the value the secret pins. */
  hostKeyFingerprint: string;
  /** The folder the partner's files land in. */
  directory: string;
  /** Final names files were renamed to, in order: a delivery counts once it has its final name. */
  readonly renames: readonly string[];
  failUploads(count: number): void;
  /** The JSON the partner's Secrets Manager secret holds (functions/settlement/deliver.ts reads it). */
  secretValue(): string;
  stop(): Promise<void>;
}

function fingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * An ed25519 key pair in OpenSSH format that ssh2 can read back. ssh2 1.17's generator writes a key whose first byte is
 * 0 one byte short (31 bytes), and its own parser then refuses it: about 1 key in 220 (measured: 9 of 2,000), so a
 * runtime start with two keys per partner failed about once in 110. A fresh key is drawn until it reads back.
 */
export function generateEd25519KeyPair(attempts = 10): { public: string; private: string } {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const keys = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(keys.public) instanceof Error) && !(utils.parseKey(keys.private) instanceof Error)) {
      return keys;
    }
  }
  throw new Error(`ssh2 generated ${attempts} ed25519 keys in a row that it cannot read back`);
}

export async function startPartnerSftp(options: {
  directory: string;
  username?: string;
  logger: RuntimeLogger;
}): Promise<PartnerSftpServer> {
  const username = options.username ?? 'buzzer';
  const directory = path.resolve(options.directory);
  await mkdir(directory, { recursive: true });
  const hostKeys = generateEd25519KeyPair();
  const clientKeys = generateEd25519KeyPair();
  const clientPublic = utils.parseKey(clientKeys.public);
  const hostPublic = utils.parseKey(hostKeys.public);
  if (clientPublic instanceof Error) throw clientPublic;
  if (hostPublic instanceof Error) throw hostPublic;
  let failing = 0;
  const renames: string[] = [];

  /** A client path inside the folder, or undefined when it would leave it. */
  const local = (remote: string): string | undefined => {
    const resolved = path.resolve(directory, `.${path.posix.resolve('/', remote)}`);
    return resolved === directory || resolved.startsWith(`${directory}${path.sep}`) ? resolved : undefined;
  };

  const clients = new Set<ssh2.Connection>();
  const server = new Server({ hostKeys: [hostKeys.private] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', (error) =>
      options.logger.debug('partner sftp: client error', { error: String(error) }),
    );
    client.on('authentication', (ctx) => {
      if (
        ctx.method === 'publickey' &&
        ctx.username === username &&
        ctx.key.algo === clientPublic.type &&
        ctx.key.data.equals(clientPublic.getPublicSSH()) &&
        (!ctx.signature || (ctx.blob && clientPublic.verify(ctx.blob, ctx.signature, ctx.hashAlgo)))
      ) {
        ctx.accept();
        return;
      }
      ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, { file?: FileHandle; dir?: string[]; failAfterWrite?: boolean }>();
          let nextHandle = 1;
          // A dropped connection leaves its files open: close them with the session.
          sftp.on('close', () => {
            for (const entry of handles.values()) void entry.file?.close().catch(() => undefined);
            handles.clear();
          });
          const handleOf = (buffer: Buffer) => (buffer.length === 4 ? buffer.readUInt32BE(0) : -1);
          const newHandle = (entry: { file?: FileHandle; dir?: string[]; failAfterWrite?: boolean }) => {
            const id = nextHandle++;
            handles.set(id, entry);
            const buffer = Buffer.alloc(4);
            buffer.writeUInt32BE(id, 0);
            return buffer;
          };
          const attrsOf = (s: Awaited<ReturnType<typeof stat>>) => ({
            mode: Number(s.mode),
            uid: 0,
            gid: 0,
            size: Number(s.size),
            atime: Math.floor(Number(s.atimeMs) / 1000),
            mtime: Math.floor(Number(s.mtimeMs) / 1000),
          });
          const fail = (reqId: number, error: unknown) => {
            const code = (error as NodeJS.ErrnoException)?.code;
            sftp.status(reqId, code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);
          };

          sftp.on('OPEN', (reqId, filename, flags) => {
            const file = local(filename);
            if (!file) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            const writing = (flags & OPEN_MODE.WRITE) !== 0;
            const mode = writing ? ((flags & OPEN_MODE.TRUNC) !== 0 ? 'w' : 'r+') : 'r';
            open(file, mode)
              .then((handle) => {
                const failAfterWrite = writing && failing > 0;
                if (failAfterWrite) failing -= 1;
                sftp.handle(reqId, newHandle({ file: handle, failAfterWrite }));
              })
              .catch((error) => fail(reqId, error));
          });
          sftp.on('WRITE', (reqId, handle, offset, data) => {
            const entry = handles.get(handleOf(handle));
            if (!entry?.file) return sftp.status(reqId, STATUS_CODE.FAILURE);
            if (entry.failAfterWrite) {
              // Half of the bytes reach the disk, then the connection drops: a partial temporary file is left behind.
              options.logger.info('partner sftp: dropping the connection mid-transfer (injected)');
              entry.failAfterWrite = false;
              entry.file
                .write(data, 0, Math.floor(data.length / 2), offset)
                .finally(() => client.end())
                .catch(() => undefined);
              return;
            }
            entry.file
              .write(data, 0, data.length, offset)
              .then(() => sftp.status(reqId, STATUS_CODE.OK))
              .catch((error) => fail(reqId, error));
          });
          sftp.on('READ', (reqId, handle, offset, length) => {
            const entry = handles.get(handleOf(handle));
            if (!entry?.file) return sftp.status(reqId, STATUS_CODE.FAILURE);
            const buffer = Buffer.alloc(length);
            entry.file
              .read(buffer, 0, length, offset)
              .then(({ bytesRead }) =>
                bytesRead === 0
                  ? sftp.status(reqId, STATUS_CODE.EOF)
                  : sftp.data(reqId, buffer.subarray(0, bytesRead)),
              )
              .catch((error) => fail(reqId, error));
          });
          sftp.on('CLOSE', (reqId, handle) => {
            const id = handleOf(handle);
            const entry = handles.get(id);
            handles.delete(id);
            if (!entry) return sftp.status(reqId, STATUS_CODE.FAILURE);
            (entry.file ? entry.file.close() : Promise.resolve())
              .then(() => sftp.status(reqId, STATUS_CODE.OK))
              .catch((error) => fail(reqId, error));
          });
          const statRequest = (reqId: number, remote: string) => {
            const file = local(remote);
            if (!file) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            stat(file)
              .then((s) => sftp.attrs(reqId, attrsOf(s)))
              .catch((error) => fail(reqId, error));
          };
          sftp.on('STAT', statRequest);
          sftp.on('LSTAT', statRequest);
          sftp.on('FSTAT', (reqId, handle) => {
            const entry = handles.get(handleOf(handle));
            if (!entry?.file) return sftp.status(reqId, STATUS_CODE.FAILURE);
            entry.file
              .stat()
              .then((s) => sftp.attrs(reqId, attrsOf(s)))
              .catch((error) => fail(reqId, error));
          });
          sftp.on('SETSTAT', (reqId) => sftp.status(reqId, STATUS_CODE.OK));
          sftp.on('FSETSTAT', (reqId) => sftp.status(reqId, STATUS_CODE.OK));
          sftp.on('REMOVE', (reqId, remote) => {
            const file = local(remote);
            if (!file) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            stat(file)
              .then(() => rm(file))
              .then(() => sftp.status(reqId, STATUS_CODE.OK))
              .catch((error) => fail(reqId, error));
          });
          sftp.on('RENAME', (reqId, from, to) => {
            const source = local(from);
            const target = local(to);
            if (!source || !target) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            // SFTP v3 (OpenSSH): a rename never replaces an existing file.
            stat(target)
              .then(
                () => sftp.status(reqId, STATUS_CODE.FAILURE, 'target exists'),
                () =>
                  rename(source, target).then(() => {
                    renames.push(path.relative(directory, target));
                    sftp.status(reqId, STATUS_CODE.OK);
                  }),
              )
              .catch((error) => fail(reqId, error));
          });
          sftp.on('REALPATH', (reqId, remote) => {
            const resolved = path.posix.resolve('/', remote);
            sftp.name(reqId, [{ filename: resolved, longname: resolved, attrs: {} as never }]);
          });
          sftp.on('MKDIR', (reqId, remote) => {
            const dir = local(remote);
            if (!dir) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            mkdir(dir)
              .then(() => sftp.status(reqId, STATUS_CODE.OK))
              .catch((error) => fail(reqId, error));
          });
          sftp.on('OPENDIR', (reqId, remote) => {
            const dir = local(remote);
            if (!dir) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            readdir(dir)
              .then((names) => sftp.handle(reqId, newHandle({ dir: names })))
              .catch((error) => fail(reqId, error));
          });
          sftp.on('READDIR', (reqId, handle) => {
            const entry = handles.get(handleOf(handle));
            if (!entry?.dir) return sftp.status(reqId, STATUS_CODE.FAILURE);
            if (entry.dir.length === 0) return sftp.status(reqId, STATUS_CODE.EOF);
            const names = entry.dir.splice(0);
            sftp.name(
              reqId,
              names.map((filename) => ({ filename, longname: filename, attrs: {} as never })),
            );
          });
        });
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const hostKeyFingerprint = fingerprint(hostPublic.getPublicSSH());
  return {
    host: LOOPBACK,
    port,
    username,
    privateKey: clientKeys.private,
    hostKeyFingerprint,
    directory,
    renames,
    failUploads(count) {
      failing = count;
    },
    secretValue() {
      return JSON.stringify({
        host: LOOPBACK,
        port,
        username,
        privateKey: clientKeys.private,
        hostKey: hostKeyFingerprint,
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        // An open client connection would hold close() back.
        for (const client of clients) client.end();
        server.close(() => resolve());
      }),
  };
}
