/**
 * Cold starts per function. Each handler is bundled twice with the options NodejsFunction uses for Buzzer
 * (esbuild, minify, CommonJS, target node24, source map): once with `@aws-sdk/*` left to the Lambda runtime (the
 * deployed setting), once with the SDK inside the bundle. Each bundle is then started in a fresh Node.js process
 * with the function's resolved environment (endpoints of the running local system, NODE_OPTIONS from the
 * template) and serves the first event that function received during the benchmark, against the live system;
 * the best of a few runs is reported.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { loadCloudAssembly } from '#local/template/assembly.ts';
import { LocalNames } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';
import { type BenchSystem, LAMBDA_BUNDLE, log } from '../harness.ts';

export type BundleVariant = 'sdk external' | 'sdk bundled';
const VARIANTS: readonly BundleVariant[] = ['sdk external', 'sdk bundled'];

export interface ColdStartResult {
  logicalId: string;
  functionName: string;
  /** Handler source, relative to the project. */
  entry: string;
  memoryMb: number;
  /** Size of the asset `cdk synth` wrote (the deployed bundle), for comparison with our own build. */
  deployedBytes: number;
  variants: Array<{
    variant: BundleVariant;
    bytes: number;
    gzipBytes: number;
    /** The best of the runs (least disturbed by other work on the machine). */
    bootMs: number;
    importMs: number;
    firstInvokeMs: number;
    /** Process start to the first answer: boot + import + first invocation. */
    totalMs: number;
    runs: number;
    /** The first invocation threw (an event the function rejects still counts as served). */
    error?: string;
  }>;
  /** No event reached this function during the benchmark: the import is measured, the invocation is not. */
  invoked: boolean;
}

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');
const HANDLER_SOURCE = /(functions\/(?!shared\/)[^/]+\/[^/]+\.ts)$/;

/** The handler file a bundle was built from: among the sources in its source map, the one exporting `handler`. */
async function entryOf(codeDir: string): Promise<string | undefined> {
  const map = JSON.parse(await readFile(path.join(codeDir, 'index.js.map'), 'utf8')) as {
    sources?: string[];
  };
  const candidates = (map.sources ?? [])
    .map((source) => HANDLER_SOURCE.exec(source)?.[1])
    .filter((source): source is string => source !== undefined);
  return candidates.find((candidate) =>
    /export\s+(const|async function|function)\s+handler\b|export\s*\{[^}]*\bhandler\b/.test(
      readFileSync(path.join(PROJECT_ROOT, candidate), 'utf8'),
    ),
  );
}

async function bundle(entry: string, outDir: string, variant: BundleVariant): Promise<string> {
  const outfile = path.join(outDir, 'index.js');
  // Lambda's task root has no package.json; this repository's says "type": "module", which would make Node
  // read the CommonJS bundle as an ES module.
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'package.json'), '{ "type": "commonjs" }\n');
  await build({
    entryPoints: [path.join(PROJECT_ROOT, entry)],
    outfile,
    ...LAMBDA_BUNDLE,
    // As deployed: the Lambda runtime's SDK provides @aws-sdk/* and the @smithy/* packages under it (cdk.json,
    // `sdkV3ExcludeSmithyPackages`), so neither is in the deployed bundle.
    external: variant === 'sdk external' ? ['@aws-sdk/*', '@smithy/*'] : [],
  });
  return outfile;
}

interface ChildResult {
  bootMs: number;
  importMs: number;
  invokeMs: number;
  error?: string;
}

function runChild(
  bundlePath: string,
  eventFile: string,
  resultFile: string,
  env: Record<string, string>,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bench', 'cold-start-child.ts'), bundlePath, eventFile, resultFile],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult);
      } catch {
        reject(new Error(`cold-start child exited with ${code}: ${stderr.slice(-1000)}`));
      }
    });
  });
}

export interface ColdStartSettings {
  runs: number;
  cdkOut: string;
}

export async function runColdStarts(
  system: BenchSystem,
  settings: ColdStartSettings,
): Promise<ColdStartResult[]> {
  const assembly = await loadCloudAssembly(path.resolve(PROJECT_ROOT, settings.cdkOut));
  const account = { ...DEFAULT_ACCOUNT, stackName: assembly.stackName };
  const { info } = system.runtime;
  const names = new LocalNames(assembly.template, account, {
    dynamodb: info.endpoints.dynamodb,
    sqs: info.endpoints.sqs,
    gateway: info.endpoints.gateway,
    httpApi: (logicalId) => info.httpApis[logicalId] ?? '',
  });
  const resolver = new TemplateResolver(assembly.template, account, names);
  const workDir = path.join(PROJECT_ROOT, '.buzzer', 'bench', 'cold-start');
  await rm(workDir, { recursive: true, force: true });

  // Every bundle first (esbuild runs them in parallel), so the timed runs do not share the cores with a build.
  const functions = await Promise.all(
    Object.entries(info.functions).map(async ([logicalId, functionName]) => {
      const codeDir = assembly.assetDirFor(logicalId);
      const entry = codeDir ? await entryOf(codeDir) : undefined;
      if (!codeDir || !entry) return undefined;
      const dir = path.join(workDir, logicalId);
      const bundles = await Promise.all(
        VARIANTS.map((variant) => bundle(entry, path.join(dir, variant.replace(' ', '-')), variant)),
      );
      return { logicalId, functionName, codeDir, entry, dir, bundles };
    }),
  );

  const results: ColdStartResult[] = [];
  for (const fn of functions) {
    if (!fn) continue;
    const { logicalId, functionName, codeDir, entry, dir, bundles } = fn;
    log(`cold start: ${entry}`);
    const props = resolver.resolveProperties(logicalId);
    const memoryMb = typeof props.MemorySize === 'number' ? props.MemorySize : 128;
    const variables =
      (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    const event = system.tap.firstEvents.get(functionName);
    const eventFile = path.join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(event ?? null));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      ...Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      ...system.runtime.functionEnvironment,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      _HANDLER: 'index.handler',
    };

    const variants: ColdStartResult['variants'] = [];
    for (const [i, variant] of VARIANTS.entries()) {
      const bundlePath = bundles[i] ?? '';
      const code = await readFile(bundlePath);
      const runs: ChildResult[] = [];
      for (let run = 0; run < settings.runs; run++) {
        const resultFile = path.join(path.dirname(bundlePath), `result-${run}.json`);
        runs.push(await runChild(bundlePath, eventFile, resultFile, env));
      }
      const invokeOf = (r: ChildResult) => (event === undefined ? 0 : r.invokeMs);
      // The best run: other work on the machine only ever adds time, so the minimum is the least disturbed.
      const best = runs.reduce((a, b) =>
        a.bootMs + a.importMs + invokeOf(a) <= b.bootMs + b.importMs + invokeOf(b) ? a : b,
      );
      const error = runs.find((r) => r.error)?.error;
      variants.push({
        variant,
        bytes: code.length,
        gzipBytes: gzipSync(code).length,
        bootMs: best.bootMs,
        importMs: best.importMs,
        firstInvokeMs: invokeOf(best),
        totalMs: best.bootMs + best.importMs + invokeOf(best),
        runs: runs.length,
        ...(error ? { error } : {}),
      });
    }
    results.push({
      logicalId,
      functionName,
      entry,
      memoryMb,
      deployedBytes: (await stat(path.join(codeDir, 'index.js'))).size,
      variants,
      invoked: event !== undefined,
    });
  }
  return results;
}
