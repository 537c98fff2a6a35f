import { createServer } from 'node:net';

/** Every local engine listens on loopback only: nothing the runtime starts is reachable from the network. */
export const LOOPBACK = '127.0.0.1';

/**
 * Asks the kernel for a free TCP port on loopback by binding port 0 and releasing it. Needed for
 * engines that take a port on their command line (DynamoDB Local is a separate JVM and cannot be
 * handed a listening socket). Another process may grab the port between this call and the engine's
 * bind, so callers that pick a port this way retry on "address in use".
 */
export function freePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => {
        if (port === undefined) reject(new Error(`could not read the port bound on ${host}`));
        else resolve(port);
      });
    });
  });
}

/** Whether nothing listens on `port` (checked by binding it briefly). */
export function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
