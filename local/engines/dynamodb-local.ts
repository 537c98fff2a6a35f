import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { namedError } from '#shared/named-error.ts';
import { DEFAULT_ACCOUNT, type RuntimeLogger, silentLogger } from '../types.ts';
import { freePort, isPortFree, LOOPBACK } from './ports.ts';

/**
 * DynamoDB Local 1.25, the real engine behind the local runtime's tables and streams.
 *
 * The jar ships inside the npm package `amplify-dynamodb-simulator`; installing that package would pull
 * 347 MB of unrelated dependencies, so we `npm pack` it and extract only the jar and its native libraries.
 * Its licence forbids redistribution, hence a per-user cache and never the repository.
 */

export const DYNAMODB_LOCAL_VERSION = '1.25';
export const DYNAMODB_LOCAL_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
/** SHA-256 of `DynamoDBLocal.jar` in that (immutable) package version: catches a corrupted or tampered fetch. */
const JAR_SHA256 = '454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7';
const JAR = 'DynamoDBLocal.jar';
const LIB = 'DynamoDBLocal_lib';
const LICENCE = 'LICENSE.txt';
const MIN_JAVA = 11;
/**
 * Starts the jar's server on 127.0.0.1 only (see the file). Compiled once into the cache (see `launcherCommand`), else
 * run in source-file mode; either way Java 11+ with jdk.compiler.
 */
const LOOPBACK_LAUNCHER = fileURLToPath(new URL('./DynamoDbLocalLoopback.java', import.meta.url));
const LOOPBACK_CLASS = 'DynamoDbLocalLoopback';

/**
 * DynamoDB Local 1.25 accepts any credentials with `-sharedDb`, but the SDK refuses to sign without some,
 * and DynamoDB Local rejects keys with characters other than letters and digits.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'buzzerlocal', secretAccessKey: 'buzzerlocal' } as const;

export class DynamoDbLocalError extends namedError('DynamoDbLocalError') {}

export class JavaNotFoundError extends namedError('JavaNotFoundError', DynamoDbLocalError) {}

export class DynamoDbLocalFetchError extends namedError('DynamoDbLocalFetchError', DynamoDbLocalError) {}

export class DynamoDbLocalStartError extends namedError('DynamoDbLocalStartError', DynamoDbLocalError) {}

/** The port was taken between choosing it and the JVM binding it. */
class PortInUseError extends namedError('PortInUseError', DynamoDbLocalStartError) {}

/** Root of Buzzer's per-user cache: `$BUZZER_CACHE_DIR`, else `$XDG_CACHE_HOME/buzzer`, else `~/.cache/buzzer`. */
export function buzzerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BUZZER_CACHE_DIR) return env.BUZZER_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'buzzer');
}

/** Where the jar and `DynamoDBLocal_lib/` live once fetched. */
export function dynamoDbLocalDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(buzzerCacheDir(env), `dynamodb-local-${DYNAMODB_LOCAL_VERSION}`);
}

/**
 * Environment that points AWS SDK v3 clients (handlers use plain `new DynamoDBClient({})`) at DynamoDB
 * Local: the service-specific endpoint variables plus a region and the fake credentials the SDK needs to sign.
 */
export function dynamoDbLocalEnv(
  endpoint: string,
  region: string = DEFAULT_ACCOUNT.region,
): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoint,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isInstalled(dir: string): Promise<boolean> {
  return (await exists(join(dir, JAR))) && (await exists(join(dir, LIB)));
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      // npm is `npm.cmd` on Windows, which only runs through a shell.
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, shell: process.platform === 'win32' },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stdout: String(stdout), stderr: String(stderr) }));
        else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function describeRunError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const stderr = 'stderr' in error && typeof error.stderr === 'string' ? error.stderr.trim() : '';
  return stderr ? `${error.message.trim()}\n${stderr}` : error.message;
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function fetchInto(dir: string, logger: RuntimeLogger): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  // Staged next to the target so the final rename stays on one filesystem and is atomic.
  const work = await mkdtemp(join(parent, '.dynamodb-local-'));
  try {
    logger.info('fetching DynamoDB Local (first start only)', { package: DYNAMODB_LOCAL_PACKAGE, into: dir });
    try {
      await run(
        process.platform === 'win32' ? 'npm.cmd' : 'npm',
        ['pack', DYNAMODB_LOCAL_PACKAGE, '--pack-destination', work, '--silent'],
        10 * 60_000,
      );
    } catch (error) {
      throw new DynamoDbLocalFetchError(
        `"npm pack ${DYNAMODB_LOCAL_PACKAGE}" failed; DynamoDB Local is fetched from the npm registry on first use: ${describeRunError(error)}`,
        { cause: error },
      );
    }
    const tarball = (await readdir(work)).find((file) => file.endsWith('.tgz'));
    if (!tarball) throw new DynamoDbLocalFetchError(`"npm pack ${DYNAMODB_LOCAL_PACKAGE}" wrote no tarball`);

    const staged = join(work, 'dynamodb-local');
    await mkdir(staged);
    const members = [JAR, LIB, LICENCE].map((name) => `package/emulator/${name}`);
    try {
      await run(
        'tar',
        ['-xzf', join(work, tarball), '-C', staged, '--strip-components=2', ...members],
        5 * 60_000,
      );
    } catch (error) {
      throw new DynamoDbLocalFetchError(`could not extract DynamoDB Local: ${describeRunError(error)}`, {
        cause: error,
      });
    }
    const digest = await sha256(join(staged, JAR));
    if (digest !== JAR_SHA256) {
      throw new DynamoDbLocalFetchError(
        `${JAR} from ${DYNAMODB_LOCAL_PACKAGE} has SHA-256 ${digest}, expected ${JAR_SHA256}; refusing to run it`,
      );
    }
    try {
      await rename(staged, dir);
    } catch (error) {
      // Another process finished the same fetch first: its copy is complete (it was renamed whole).
      if (!(await isInstalled(dir))) throw error;
    }
    logger.info('DynamoDB Local ready in cache', { dir });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const installs = new Map<string, Promise<string>>();

/**
 * Makes sure DynamoDB Local is in the cache and returns its directory. Fetches it once (per machine, and
 * per process when called concurrently); a partial fetch never becomes visible because it is staged in a
 * temporary directory and renamed into place whole.
 */
export function ensureDynamoDbLocal(options: { dir?: string; logger?: RuntimeLogger } = {}): Promise<string> {
  const dir = options.dir ?? dynamoDbLocalDir();
  const pending = installs.get(dir);
  if (pending) return pending;
  const install = (async () => {
    if (!(await isInstalled(dir))) await fetchInto(dir, options.logger ?? silentLogger);
    return dir;
  })();
  installs.set(dir, install);
  install.catch(() => installs.delete(dir));
  return install;
}

function javaExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME
    ? join(env.JAVA_HOME, 'bin', process.platform === 'win32' ? 'java.exe' : 'java')
    : 'java';
}

/** Major version from `java -version` output: `"17.0.15"` → 17, legacy `"1.8.0_292"` → 8. */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

const javaChecks = new Map<string, Promise<string>>();

/**
 * `checkJava` once per process and Java executable (a `java -version` is a JVM start of its own): the runtimes a test
 * file starts one after another ask once. Resolves with the version output, which names the compiled launcher.
 */
function checkedJava(java: string): Promise<string> {
  const pending = javaChecks.get(java);
  if (pending) return pending;
  const check = checkJavaVersion(java);
  javaChecks.set(java, check);
  check.catch(() => javaChecks.delete(java));
  return check;
}

/** Fails with a clear message when no usable Java runtime is installed. */
export async function checkJava(java: string = javaExecutable()): Promise<void> {
  await checkJavaVersion(java);
}

async function checkJavaVersion(java: string): Promise<string> {
  let output: RunResult;
  try {
    output = await run(java, ['-version'], 30_000);
  } catch (error) {
    const missing = error instanceof Error && 'code' in error && error.code === 'ENOENT';
    throw new JavaNotFoundError(
      missing
        ? `DynamoDB Local needs Java ${MIN_JAVA} or newer, but "${java}" was not found. Install a JRE ` +
            '(e.g. "apt-get install openjdk-17-jre-headless" or "brew install openjdk@17") or set JAVA_HOME.'
        : `"${java} -version" failed: ${describeRunError(error)}`,
      { cause: error },
    );
  }
  const major = parseJavaMajor(`${output.stderr}\n${output.stdout}`);
  if (major !== undefined && major < MIN_JAVA) {
    throw new JavaNotFoundError(`DynamoDB Local needs Java ${MIN_JAVA} or newer; "${java}" is Java ${major}`);
  }
  return `${output.stderr}\n${output.stdout}`;
}

const launchers = new Map<string, Promise<string[]>>();

/**
 * The class path and main class that start the loopback launcher. Source-file mode compiles the launcher in every JVM
 * it starts, with javac loaded and run by a JIT-less interpreter first; compiled once into the cache beside the jar
 * (`loopback-<digest of the source and the Java version>/`), a start only loads a class. Compiled by the JDK's own
 * compiler module, the one source-file mode uses (no javac executable needed), into a temporary directory renamed
 * into place whole, so concurrent starts never load half a class. Source-file mode remains the fallback.
 */
function launcherCommand(
  java: string,
  dir: string,
  versionOutput: string,
  logger: RuntimeLogger,
): Promise<string[]> {
  const key = `${java}\0${dir}`;
  const pending = launchers.get(key);
  if (pending) return pending;
  const sourceMode = ['-cp', join(dir, JAR), LOOPBACK_LAUNCHER];
  const command = (async () => {
    const source = await readFile(LOOPBACK_LAUNCHER);
    const digest = createHash('sha256').update(source).update(versionOutput).digest('hex').slice(0, 16);
    const classes = join(dir, `loopback-${digest}`);
    const compiled = ['-cp', `${join(dir, JAR)}${delimiter}${classes}`, LOOPBACK_CLASS];
    const isCompiled = () => exists(join(classes, `${LOOPBACK_CLASS}.class`));
    if (await isCompiled()) return compiled;
    let work: string | undefined;
    try {
      work = await mkdtemp(join(dir, '.loopback-'));
      await run(
        java,
        ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '-d', work, LOOPBACK_LAUNCHER],
        120_000,
      );
      await rename(work, classes).catch(async (error: unknown) => {
        // Another start compiled the same source first: its directory is complete (renamed whole).
        if (!(await isCompiled())) throw error;
      });
      return compiled;
    } catch (error) {
      logger.debug('could not compile the DynamoDB Local launcher; running it in source-file mode', {
        error: describeRunError(error),
      });
      return sourceMode;
    } finally {
      if (work) await rm(work, { recursive: true, force: true });
    }
  })();
  launchers.set(key, command);
  return command;
}

/**
 * POSIX wrapper that ties a child's life to ours. The shell starts the command, then blocks reading its
 * stdin, a pipe from this process. That pipe closes when `endTied()` ends it or when Node dies in any way
 * (even SIGKILL, where no exit handler runs); the shell then sends SIGTERM to the command and waits for
 * it. `$0` is the command and `$@` its arguments.
 */
const WRAPPER = [
  '"$0" "$@" </dev/null &',
  'child_pid=$!',
  'while read -r _; do :; done',
  'kill -TERM "$child_pid" 2>/dev/null',
  'wait "$child_pid"',
].join('\n');

const usesWrapper = process.platform !== 'win32';

/**
 * Spawns a long-running engine process that cannot outlive this Node process: on POSIX through the
 * wrapper above, in its own process group so one group signal reaches the engine as well. Windows has no
 * equivalent without native code; there the process is spawned directly and only the exit hook applies.
 */
export function spawnTiedToParent(command: string, args: string[], cwd: string): ChildProcess {
  if (!usesWrapper) {
    return spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  }
  const child = spawn('/bin/sh', ['-c', WRAPPER, command, ...args], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  // Keeps an EPIPE on the wrapper's stdin (shell already gone) from becoming an uncaught error.
  child.stdin?.on('error', () => {});
  return child;
}

/** Asks a process from {@link spawnTiedToParent} to shut down gracefully (SIGTERM to the engine). */
export function endTied(child: ChildProcess): void {
  if (usesWrapper) child.stdin?.end();
  else child.kill('SIGTERM');
}

/** Signals a process from {@link spawnTiedToParent} and everything it started. */
export function signalTied(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (usesWrapper && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already gone.
  }
}

export interface DynamoDbLocalOptions {
  /** Port to listen on; a free one is picked when omitted. */
  port?: number;
  /** Keep tables in this directory (`-dbPath`) instead of in memory. */
  persistDir?: string;
  logger?: RuntimeLogger;
  /** Directory holding the jar; defaults to the cache (fetched when missing). */
  installDir?: string;
  /** How long to wait for the first successful ListTables. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  /**
   * The JVM's options. @default `BUZZER_DYNAMODB_JVM_OPTIONS` (space-separated) when set, else
   * `DEFAULT_DYNAMODB_JVM_OPTIONS`
   */
  jvmOptions?: readonly string[];
}

/**
 * The JVM options DynamoDB Local runs with. Measured on 2 cores (test/e2e/orders.test.ts, 25 scenarios on one runtime,
 * warm cdk.out): the JVM's optimising JIT compiler (C2) costs more CPU than it saves in a run of minutes, so the
 * client compiler alone (`TieredStopAtLevel=1`) cut the run's total CPU from 35.4 and 31.4 s to 22.3 and 22.6 s (the
 * node side included); the serial collector keeps the JVM from starting GC threads that would compete for the two
 * cores. A long-running DynamoDB Local under steady load may prefer C2: set `BUZZER_DYNAMODB_JVM_OPTIONS`.
 * The initial heap is small (`-Xms16m`; the JVM's default is 1/64 of the machine's memory, 384 MB here) and grows as
 * the tables do: resident memory at start 253 → 159 MB, after 12,000 writes 307 → 209 MB, CPU per request unchanged
 * (docs/profile.md). The maximum stays the JVM's default, so a large in-memory table (the bench's 100k-order day)
 * still fits.
 */
export const DEFAULT_DYNAMODB_JVM_OPTIONS: readonly string[] = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-Xms16m',
];

/** The JVM options: the caller's, else `BUZZER_DYNAMODB_JVM_OPTIONS`, else the defaults. */
export function dynamoDbJvmOptions(
  options: Pick<DynamoDbLocalOptions, 'jvmOptions'>,
  env: NodeJS.ProcessEnv = process.env,
): readonly string[] {
  if (options.jvmOptions) return options.jvmOptions;
  const fromEnv = env.BUZZER_DYNAMODB_JVM_OPTIONS?.trim();
  return fromEnv ? fromEnv.split(/\s+/) : DEFAULT_DYNAMODB_JVM_OPTIONS;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB(_STREAMS)`. */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local in a JVM with one shared database (`-sharedDb`: otherwise data is split per access
 * key and region, and handlers and the runtime would not see the same tables) and resolves once it answers
 * ListTables through the real SDK.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const logger = options.logger ?? silentLogger;
  const java = javaExecutable();
  const versionOutput = await checkedJava(java);
  const dir = await ensureDynamoDbLocal({ dir: options.installDir, logger });
  const launcher = await launcherCommand(java, dir, versionOutput, logger);
  if (options.persistDir) await mkdir(options.persistDir, { recursive: true });

  // A busy explicit port could even answer ListTables (another DynamoDB Local) while our JVM fails to bind.
  if (options.port !== undefined && !(await isPortFree(options.port))) {
    throw new DynamoDbLocalStartError(`cannot start DynamoDB Local: port ${options.port} is already in use`);
  }
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch({ java, dir, launcher, port, options, logger });
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= attempts) throw error;
      logger.debug('DynamoDB Local port was taken, retrying on another', { port });
    }
  }
}

interface LaunchParams {
  java: string;
  dir: string;
  /** Class path and main class of the loopback launcher (`launcherCommand`). */
  launcher: string[];
  port: number;
  options: DynamoDbLocalOptions;
  logger: RuntimeLogger;
}

async function launch({ java, dir, launcher, port, options, logger }: LaunchParams): Promise<DynamoDbLocal> {
  const storage = options.persistDir ? ['-dbPath', options.persistDir] : ['-inMemory'];
  // Not `-jar`: the jar's own main listens on every interface (it has no -host option). The launcher builds the same
  // server bound to 127.0.0.1; IPv4 only, so the listening socket is a plain 127.0.0.1 one.
  const args = [
    ...dynamoDbJvmOptions(options),
    `-Djava.library.path=${join(dir, LIB)}`,
    '-Djava.net.preferIPv4Stack=true',
    `-Dbuzzer.dynamodb.host=${LOOPBACK}`,
    ...launcher,
    '-sharedDb',
    ...storage,
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  const endpoint = `http://${LOOPBACK}:${port}`;
  const child = spawnTiedToParent(java, args, dir);

  // The last lines of output go into start errors: the JVM explains its failures there.
  const recent: string[] = [];
  const onOutput = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
      logger.debug('dynamodb-local', { line });
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  let exitState: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  let stopping: Promise<void> | undefined;
  let ready = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitState = { code, signal };
      if (ready && !stopping) {
        logger.error('DynamoDB Local exited unexpectedly', { code, signal, output: recent.join('\n') });
      }
      resolve();
    });
    child.once('error', (error) => {
      exitState = { code: null, signal: null, error };
      resolve();
    });
  });

  const killOnExit = (): void => signalTied(child, 'SIGKILL');
  process.on('exit', killOnExit);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exitState) {
        endTied(child);
        const grace = sleep(options.stopGraceMs ?? 5_000, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited.then(() => 'exited' as const), grace])) === 'timeout') {
          logger.warn('DynamoDB Local ignored SIGTERM; killing it', { pid: child.pid });
          signalTied(child, 'SIGKILL');
          await exited;
        }
      }
      process.removeListener('exit', killOnExit);
      logger.debug('DynamoDB Local stopped', { endpoint });
    })();
    return stopping;
  };

  const client = new DynamoDBClient({
    endpoint,
    region: DEFAULT_ACCOUNT.region,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (exitState) {
        const output = recent.join('\n');
        const reason = exitState.error
          ? exitState.error.message
          : `exited with ${exitState.signal ?? `code ${exitState.code}`}`;
        if (
          /jdk\.compiler|source[- ]file mode|unable to (find|initialize) (the )?(java )?compiler/i.test(
            output,
          )
        ) {
          throw new JavaNotFoundError(
            `DynamoDB Local's loopback launcher runs in Java's source-file mode, which needs the jdk.compiler module; ` +
              `"${java}" has none. Install a full JDK (e.g. "apt-get install openjdk-17-jdk-headless") or point ` +
              `JAVA_HOME at one:\n${output}`,
          );
        }
        const ErrorClass = /Address already in use|BindException/.test(output)
          ? PortInUseError
          : DynamoDbLocalStartError;
        throw new ErrorClass(`DynamoDB Local ${reason} before it was ready on port ${port}:\n${output}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new DynamoDbLocalStartError(
          `DynamoDB Local did not answer on ${endpoint} within ${options.startTimeoutMs ?? 30_000} ms:\n${recent.join('\n')}`,
        );
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  ready = true;
  logger.info('DynamoDB Local started', { endpoint, persistDir: options.persistDir ?? null, pid: child.pid });
  return { endpoint, port, stop };
}
