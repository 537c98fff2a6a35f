import { existsSync, readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { toErrorDocument } from './error-document.ts';
import type { LambdaErrorDocument } from './protocol.ts';

/**
 * Loads a function's handler the way the Node.js Lambda runtime does, from the asset directory `cdk synth`
 * wrote. Runs inside the worker that is the function's execution environment.
 */

export type LambdaHandler = (event: unknown, context: unknown, callback?: unknown) => unknown;

/** Loading failed; `document` is what Lambda reports for the failed invocation (`Runtime.*` types). */
export class HandlerLoadError extends Error {
  override name = 'HandlerLoadError';
  readonly document: LambdaErrorDocument;

  constructor(document: LambdaErrorDocument) {
    super(`${document.errorType}: ${document.errorMessage}`);
    this.document = document;
  }
}

interface HandlerName {
  /** Directory part of the handler setting, relative to the code directory (`''` for `index.handler`). */
  moduleRoot: string;
  module: string;
  /** Dotted export path, e.g. `handler` or `nested.handler`. */
  exportPath: string;
}

/**
 * `dir/index.handler` → module `dir/index`, export `handler`: the first dot of the file name splits them.
 */
export function parseHandlerName(handler: string): HandlerName {
  const base = path.posix.basename(handler);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match?.[1] || !match[2]) {
    throw new HandlerLoadError({
      errorType: 'Runtime.MalformedHandlerName',
      errorMessage: `Bad handler ${handler}`,
    });
  }
  return {
    moduleRoot: handler.slice(0, handler.length - base.length),
    module: match[1],
    exportPath: match[2],
  };
}

export async function loadHandler(codeDir: string, handler: string): Promise<LambdaHandler> {
  const name = parseHandlerName(handler);
  const base = path.resolve(codeDir, name.moduleRoot, name.module);
  const exports = await loadModule(codeDir, base, name.module);
  const resolved = name.exportPath
    .split('.')
    .reduce<unknown>((object, key) => (isIndexable(object) ? object[key] : undefined), exports);
  if (typeof resolved !== 'function') {
    throw new HandlerLoadError({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${handler} is undefined or not exported`,
    });
  }
  return resolved as LambdaHandler;
}

async function loadModule(codeDir: string, base: string, moduleName: string): Promise<unknown> {
  const require = nodeModule.createRequire(import.meta.url);
  try {
    // Lambda's order: `.js` (CommonJS unless a package.json in the code says "type": "module"),
    // then `.mjs`, then `.cjs`.
    if (existsSync(`${base}.js`)) {
      if (declaresModuleType(codeDir, path.dirname(base)))
        return await import(pathToFileURL(`${base}.js`).href);
      treatJsAsCommonJs(codeDir);
      return require(`${base}.js`);
    }
    if (existsSync(`${base}.mjs`)) return await import(pathToFileURL(`${base}.mjs`).href);
    if (existsSync(`${base}.cjs`)) return require(`${base}.cjs`);
  } catch (error) {
    if (error instanceof HandlerLoadError) throw error;
    throw new HandlerLoadError(classifyLoadError(error));
  }
  throw new HandlerLoadError({
    errorType: 'Runtime.ImportModuleError',
    errorMessage: `Error: Cannot find module '${moduleName}'`,
  });
}

function classifyLoadError(error: unknown): LambdaErrorDocument {
  const document = toErrorDocument(error);
  if (error instanceof SyntaxError) {
    return {
      ...document,
      errorType: 'Runtime.UserCodeSyntaxError',
      errorMessage: `SyntaxError: ${error.message}`,
    };
  }
  const code = isIndexable(error) ? error.code : undefined;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    return {
      ...document,
      errorType: 'Runtime.ImportModuleError',
      errorMessage: `Error: ${document.errorMessage}`,
    };
  }
  return document;
}

/** Whether a package.json between the module's directory and the code root declares `"type": "module"`. */
function declaresModuleType(codeDir: string, moduleDir: string): boolean {
  const root = path.resolve(codeDir);
  for (let dir = path.resolve(moduleDir); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
      return isIndexable(parsed) && parsed.type === 'module';
    }
    if (dir === root || path.dirname(dir) === dir) return false;
  }
}

let hookedCodeDir: string | undefined;

/**
 * In Lambda the code directory is the task root, so no package.json above it applies. Here cdk.out sits
 * inside this project, whose package.json says `"type": "module"`, and Node would parse the CommonJS bundle
 * as ESM. The hook restores Lambda's view for `.js` files under the code directory only; dependencies
 * (`@aws-sdk/*` is not bundled) still resolve from the project's node_modules.
 */
function treatJsAsCommonJs(codeDir: string): void {
  if (hookedCodeDir !== undefined) return;
  // Optional in the types because Node added it in 22.15 / 23.5; a namespace import keeps older Nodes loading
  // this file so they can report the problem as an init error.
  const registerHooks = (nodeModule as { registerHooks?: typeof nodeModule.registerHooks }).registerHooks;
  if (!registerHooks) {
    throw new HandlerLoadError({
      errorType: 'Runtime.ImportModuleError',
      errorMessage: `Error: loading CommonJS bundles needs Node.js >= 22.15 (module.registerHooks), not ${process.version}`,
    });
  }
  hookedCodeDir = pathToFileURL(path.resolve(codeDir)).href + '/';
  const prefix = hookedCodeDir;
  registerHooks({
    load(url, context, nextLoad) {
      if (
        !url.startsWith(prefix) ||
        !url.endsWith('.js') ||
        url.slice(prefix.length).includes('node_modules/')
      ) {
        return nextLoad(url, context);
      }
      return { ...nextLoad(url, { ...context, format: 'commonjs' }), format: 'commonjs' };
    },
  });
}

function isIndexable(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}
