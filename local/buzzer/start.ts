/**
 * Buzzer on the local runtime: the generic runtime (`#local/runtime.ts`) runs the template; this layer adds what is
 * Buzzer's own: the synthesis context (the sandbox provider unless a real one is named), the demo catalogue, API keys
 * for the clients, the sandbox provider's knobs, the discovery file the operator CLI and `npm run demo` read, and the
 * banner.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ensureConsoleBuilt } from '#console/server/build.ts';
import { startConsoleServer } from '#console/server/server.ts';
import { type PartnerSftpServer, startPartnerSftp } from '#local/partner-sftp.ts';
import {
  type LocalRuntime,
  type RuntimeDescription,
  type RuntimeOptions,
  startRuntime,
  writeDiscoveryFile,
} from '#local/runtime.ts';
import { silentLogger } from '#local/types.ts';
import { clientsForRuntime, contextFor, targetFromRuntime } from '#ops/cli/context.ts';
import type { RequestAuthenticator } from '#shared/request-auth.ts';
import { describeBuzzer } from './banner.ts';
import { localSandboxAuth, type SandboxFaults, setSandboxFaults } from './sandbox.ts';
import { attachUsageKeys, DEMO_CATALOGUE, issueApiKeys, putStock } from './seed.ts';
import { localContext } from './synth.ts';

export interface BuzzerOptions extends RuntimeOptions {
  /** Seed the demo catalogue and issue API keys for these clients. @default ['demo'] */
  clients?: string[];
  /** Seed the demo catalogue. @default true */
  seed?: boolean;
  /** Let webhook registration accept http://127.0.0.1 receivers (an explicit local-only setting). @default false */
  allowLoopbackWebhooks?: boolean;
  /** Write `.buzzer/runtime.json` so the operator CLI and `npm run demo` find this runtime. @default false */
  writeDiscoveryFile?: boolean;
  /**
   * Serve the web console (console/) on 127.0.0.1 at this port (0: any free one), built first if its bundle is
   * missing or stale. @default no console
   */
  consolePort?: number;
}

/** The runtime's description with Buzzer's entry points (also what `.buzzer/runtime.json` holds). */
export interface BuzzerDescription extends RuntimeDescription {
  apiUrl?: string;
  sandboxUrl?: string;
  apiKeys: Record<string, string>;
  /** The web console, when started (`consolePort`). */
  consoleUrl?: string;
  /** Each settlement partner's local SFTP server: where it listens and the folder its files land in. */
  settlementPartners: Record<string, { sftp: string; directory: string }>;
}

export interface BuzzerRuntime extends LocalRuntime {
  readonly info: BuzzerDescription;
  /** Signs calls to the sandbox API (AWS_IAM routes) the way the runtime's functions do. */
  readonly sandboxAuth: RequestAuthenticator;
  /** The settlement partners' SFTP servers by partner name (their folders, fault knobs). */
  readonly partners: Readonly<Record<string, PartnerSftpServer>>;
  /** Sets the sandbox provider's fault knobs (latency, failure rates, broken mail sink). */
  setSandboxFaults(faults: SandboxFaults): Promise<void>;
  /** A human summary of what came up. */
  describe(): string;
}

export async function startBuzzer(options: BuzzerOptions = {}): Promise<BuzzerRuntime> {
  const {
    clients,
    seed,
    allowLoopbackWebhooks,
    writeDiscoveryFile: discovery,
    consolePort,
    ...runtimeOptions
  } = options;
  const runtime = await startRuntime({
    ...runtimeOptions,
    context: localContext(options.context),
    environment: {
      ...(allowLoopbackWebhooks ? { WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true' } : {}),
      ...options.environment,
    },
  });
  try {
    const outputString = (key: string) => {
      const value = runtime.info.outputs[key];
      return typeof value === 'string' ? value.replace(/\/+$/, '') : undefined;
    };
    const info: BuzzerDescription = Object.assign(runtime.info, {
      apiUrl: outputString('ApiUrl'),
      sandboxUrl: outputString('SandboxUrl'),
      apiKeys: {},
      settlementPartners: {},
    });
    const partners = await startSettlementPartners(runtime, options.persistDir);
    for (const [name, server] of Object.entries(partners)) {
      info.settlementPartners[name] = { sftp: `${server.host}:${server.port}`, directory: server.directory };
    }
    const tableName = outputString('TableName');
    if (tableName) {
      const doc = runtime.clients.doc;
      if (seed ?? true) await putStock(doc, tableName, DEMO_CATALOGUE);
      info.apiKeys = await issueApiKeys(doc, tableName, clients ?? ['demo']);
      await attachUsageKeys(
        {
          stackName: runtime.info.stackName,
          region: runtime.account.region,
          outputs: runtime.info.outputs,
          apiGatewayEndpoint: runtime.clientEnvironment.AWS_ENDPOINT_URL_API_GATEWAY,
          credentials: {
            accessKeyId: runtime.clientEnvironment.AWS_ACCESS_KEY_ID ?? '',
            secretAccessKey: runtime.clientEnvironment.AWS_SECRET_ACCESS_KEY ?? '',
          },
        },
        Object.keys(info.apiKeys),
      );
    }
    if (consolePort !== undefined) {
      // The console works through the operator CLI's queries and actions, with the context `buzzer` would build
      // from runtime.json.
      const runtimeFile = { ...info, clientEnvironment: runtime.clientEnvironment };
      const ctx = contextFor(targetFromRuntime(runtimeFile), clientsForRuntime(runtimeFile));
      const server = await startConsoleServer({
        ctx,
        distDir: await ensureConsoleBuilt((message) => options.logger?.info(message)),
        port: consolePort,
        clients: Object.keys(info.apiKeys),
      });
      runtime.onStop('web console', async () => {
        await server.close();
        ctx.close();
      });
      info.consoleUrl = server.url;
    }
    if (discovery)
      await writeDiscoveryFile(runtime, path.join(runtime.projectRoot, '.buzzer', 'runtime.json'), info);

    const sandboxAuth = localSandboxAuth(runtime.account, runtime.iamCredentials);
    return Object.assign(runtime, {
      info,
      sandboxAuth,
      partners,
      async setSandboxFaults(faults: SandboxFaults) {
        if (!info.sandboxUrl) throw new Error('this stack has no sandbox provider');
        await setSandboxFaults(info.sandboxUrl, sandboxAuth, faults);
      },
      describe: () => describeBuzzer(info),
    });
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}

/**
 * One SFTP server per settlement partner secret of the template (`<stack>/settlement/<partner>`), its credentials and
 * pinned host key put into that secret, so the export delivers to a folder on this machine. The folders are under
 * `<persistDir>/partners/` or a temporary directory removed at stop.
 */
async function startSettlementPartners(
  runtime: LocalRuntime,
  persistDir: string | undefined,
): Promise<Record<string, PartnerSftpServer>> {
  const marker = `${runtime.info.stackName}/settlement/`;
  const names = Object.values(runtime.info.secrets).filter((name) => name.startsWith(marker));
  if (names.length === 0) return {};
  const root = persistDir
    ? path.resolve(persistDir, 'partners')
    : await mkdtemp(path.join(tmpdir(), 'buzzer-partners-'));
  if (!persistDir) runtime.onStop('partner folders', () => rm(root, { recursive: true, force: true }));
  const servers: Record<string, PartnerSftpServer> = {};
  for (const secretName of names) {
    const partner = secretName.slice(marker.length);
    const server = await startPartnerSftp({ directory: path.join(root, partner), logger: silentLogger });
    runtime.onStop(`partner ${partner} SFTP`, () => server.stop());
    runtime.engines.secrets.put(secretName, server.secretValue());
    servers[partner] = server;
  }
  return servers;
}
