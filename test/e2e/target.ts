/**
 * Where the end-to-end suite runs: the local runtime (default, started and stopped by the suite), or a deployed
 * stack named by the environment (`BUZZER_TARGET=localstack|aws` with `BUZZER_OUTPUTS_FILE` from
 * `cdk deploy --outputs-file` and `BUZZER_API_KEYS` = `client=key,client2=key2`). The assertions are the same.
 */
import { readFileSync } from 'node:fs';
import { MAX_CLIENT_BURST_LIMIT, MAX_CLIENT_RATE_LIMIT } from '#contracts/api.ts';
import { setClientLimits } from '#functions/clients/limits.ts';
import { type BuzzerRuntime, startBuzzer } from '#local/buzzer/start.ts';
import { type RequestAuthenticator, sigV4ForUrl } from '#shared/request-auth.ts';

export type TargetName = 'local' | 'localstack' | 'aws';

export interface Target {
  name: TargetName;
  apiUrl: string;
  sandboxUrl: string;
  /** Signs calls to the sandbox API (IAM-authorized): the runtime's credentials locally, the default chain deployed. */
  sandboxAuth: RequestAuthenticator;
  /** API keys by client id. */
  apiKeys: Record<string, string>;
  /** The web console (local target started with `console: true`). */
  consoleUrl?: string;
  /** The running local runtime, for fault injection; undefined on deployed targets. */
  runtime?: BuzzerRuntime;
  /**
   * The functions' latest log lines (local target, at least `RECENT_LOG_LINES` of them) that mention any of `needles`: what a
   * failing scenario adds to its message, since function logs are off in the e2e run. Empty on deployed targets.
   */
  recentLogs(...needles: string[]): string[];
  stop(): Promise<void>;
}

/** How many function log lines a local target keeps for `recentLogs`. */
const RECENT_LOG_LINES = 20_000;

export interface TargetOptions {
  /**
   * Cloud assembly of the local runtime, relative to the project root (e.g. `EXPRESS_CDK_OUT`); test/e2e/global-setup.ts
   * synthesizes `cdk.out` and the EXPRESS variant. @default 'cdk.out'
   */
  cdkOut?: string;
  /** Clients to issue API keys for (local target). @default ['alice', 'bob'] */
  clients?: string[];
  /** Step Functions retry intervals, so retry scenarios finish in seconds (local target). @default 200 */
  retryIntervalOverrideMs?: number;
  allowLoopbackWebhooks?: boolean;
  /** Extra environment for every function (local target), e.g. `WEBHOOK_RETRY_SCHEDULE_SECONDS`. */
  environment?: Record<string, string>;
  scheduleIntervalMs?: number;
  /** The clock of the API's authorizer cache (local target), to pass its TTL without waiting. @default Date.now */
  gatewayClock?: () => number;
  persistDir?: string;
  /** Execution environments per function without reserved concurrency (local target). @default 4 */
  lambdaConcurrency?: number;
  /** Serve the web console on a free port (local target). @default false */
  console?: boolean;
  /** Print function logs (debugging). @default false */
  verbose?: boolean;
}

/**
 * Every client the suite acts as on a deployed target, each needing a key in `BUZZER_API_KEYS`: alice and bob
 * (orders, isolation, faults), chaos (the chaos run), mallory (bad input). `localstack/seed.ts` issues them all.
 */
export const DEPLOYED_TARGET_CLIENTS = ['alice', 'bob', 'chaos', 'mallory'] as const;

export function targetName(): TargetName {
  const name = process.env.BUZZER_TARGET ?? 'local';
  if (name !== 'local' && name !== 'localstack' && name !== 'aws') {
    throw new Error(`BUZZER_TARGET must be local, localstack or aws, got "${name}"`);
  }
  return name;
}

function deployedTarget(name: TargetName, clients: readonly string[]): Target {
  const file = process.env.BUZZER_OUTPUTS_FILE;
  if (!file) throw new Error(`BUZZER_TARGET=${name} needs BUZZER_OUTPUTS_FILE (cdk deploy --outputs-file …)`);
  const outputs = Object.values(
    JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>,
  )[0];
  const apiKeys = Object.fromEntries(
    (process.env.BUZZER_API_KEYS ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  if (!outputs?.ApiUrl || !outputs.SandboxUrl) throw new Error(`${file} has no ApiUrl/SandboxUrl outputs`);
  const missing = clients.filter((client) => !apiKeys[client]);
  if (missing.length > 0) {
    throw new Error(
      `BUZZER_API_KEYS has no key for ${missing.join(', ')}: issue one per client with ` +
        `\`npx buzzer keys create --client <id> --stack <stack>\` (the suite uses ${DEPLOYED_TARGET_CLIENTS.join(', ')})`,
    );
  }
  const sandboxUrl = outputs.SandboxUrl.replace(/\/+$/, '');
  return {
    name,
    apiUrl: outputs.ApiUrl.replace(/\/+$/, ''),
    sandboxUrl,
    sandboxAuth: sigV4ForUrl(sandboxUrl),
    apiKeys,
    recentLogs: () => [],
    stop: async () => {},
  };
}

export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  const name = targetName();
  if (name !== 'local') return deployedTarget(name, options.clients ?? ['alice', 'bob']);
  const clients = options.clients ?? ['alice', 'bob'];
  const verbose = options.verbose ?? process.env.BUZZER_VERBOSE === '1';
  const recent: string[] = [];
  const runtime = await startBuzzer({
    // test/e2e/global-setup.ts synthesizes once for the whole run.
    synth: false,
    ...(options.cdkOut === undefined ? {} : { cdkOut: options.cdkOut }),
    apiPort: 0,
    clients,
    retryIntervalOverrideMs: options.retryIntervalOverrideMs ?? 200,
    allowLoopbackWebhooks: options.allowLoopbackWebhooks,
    environment: options.environment,
    scheduleIntervalMs: options.scheduleIntervalMs,
    gatewayClock: options.gatewayClock,
    persistDir: options.persistDir,
    lambdaConcurrency: options.lambdaConcurrency,
    ...(options.console ? { consolePort: 0 } : {}),
    functionLogs: verbose,
    // Kept, and printed only when verbose: a failing scenario quotes the lines about its own orders.
    functionLogSink: (fn, line) => {
      if (verbose) process.stdout.write(`${fn} ${line}\n`);
      recent.push(`${fn} ${line}`);
      // Trimmed in steps, not line by line: a long run logs hundreds of thousands of lines.
      if (recent.length > 2 * RECENT_LOG_LINES) recent.splice(0, recent.length - RECENT_LOG_LINES);
    },
  });
  const { apiUrl, sandboxUrl } = runtime.info;
  if (!apiUrl || !sandboxUrl) throw new Error('the synthesized stack has no ApiUrl/SandboxUrl outputs');
  // The scenarios' clients poll orders every 150 ms, a dozen at a time: over the default per-client rate. They get the
  // largest limits (their requests still take tokens); the rate-limit scenario (api-keys.test.ts) uses clients of its
  // own with low ones.
  const tableName = runtime.info.outputs.TableName;
  if (typeof tableName === 'string') {
    for (const clientId of clients) {
      await setClientLimits({ doc: runtime.clients.doc, tableName }, clientId, {
        rateLimit: MAX_CLIENT_RATE_LIMIT,
        burstLimit: MAX_CLIENT_BURST_LIMIT,
      });
    }
  }
  return {
    name,
    apiUrl,
    sandboxUrl,
    sandboxAuth: runtime.sandboxAuth,
    apiKeys: runtime.info.apiKeys,
    ...(runtime.info.consoleUrl ? { consoleUrl: runtime.info.consoleUrl } : {}),
    runtime,
    recentLogs: (...needles) => recent.filter((line) => needles.some((needle) => line.includes(needle))),
    stop: () => runtime.stop(),
  };
}
