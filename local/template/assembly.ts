import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CfnResource, CfnTemplate } from '../types.ts';
import { CloudAssemblyError } from './errors.ts';

/**
 * Reads a cloud assembly (`cdk.out`): the manifest, the stack's template and where each function's
 * bundled code lies. The local runtime runs exactly these files, the artifact `cdk deploy` uploads.
 * Format: https://github.com/aws/aws-cdk-cli/tree/main/packages/@aws-cdk/cloud-assembly-schema
 */

export interface CloudAssembly {
  /** The stack's CloudFormation name (`properties.stackName`, else the artifact id). */
  stackName: string;
  /** Absolute path of the assembly directory. */
  directory: string;
  template: CfnTemplate;
  /** Absolute path of the template file. */
  templatePath: string;
  /**
   * Absolute path of the directory holding the bundled code of an `AWS::Lambda::Function`; `undefined`
   * for other resources and for functions without an asset (inline `ZipFile`, container images).
   */
  assetDirFor(logicalId: string): string | undefined;
}

const STACK_ARTIFACT = 'aws:cloudformation:stack';
const ASSET_MANIFEST_ARTIFACT = 'cdk:asset-manifest';
const LAMBDA_FUNCTION = 'AWS::Lambda::Function';
const ASSET_PATH_METADATA = 'aws:asset:path';

interface Artifact {
  type?: unknown;
  displayName?: unknown;
  dependencies?: unknown;
  properties?: Record<string, unknown>;
}

interface FileAsset {
  source?: { path?: unknown };
  destinations?: Record<string, { objectKey?: unknown }>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CloudAssemblyError(`cannot read the ${what} ${file}; run \`npm run synth\` first`, undefined, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CloudAssemblyError(`the ${what} ${file} is not valid JSON`, undefined, { cause: error });
  }
}

async function isDirectory(file: string): Promise<boolean | undefined> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    return undefined;
  }
}

function stackNameOf(id: string, artifact: Artifact): string {
  const name = artifact.properties?.stackName;
  return typeof name === 'string' ? name : id;
}

function selectStack(
  artifacts: Record<string, Artifact>,
  wanted: string | undefined,
  dir: string,
): [string, Artifact] {
  const stacks = Object.entries(artifacts).filter(([, artifact]) => artifact.type === STACK_ARTIFACT);
  const names = stacks.map(([id, artifact]) => stackNameOf(id, artifact));
  if (stacks.length === 0) throw new CloudAssemblyError(`the cloud assembly ${dir} contains no stack`);
  if (wanted === undefined) {
    const [only] = stacks;
    if (stacks.length === 1 && only) return only;
    throw new CloudAssemblyError(
      `the cloud assembly ${dir} contains several stacks (${names.join(', ')}); name one`,
    );
  }
  const match = stacks.find(
    ([id, artifact]) =>
      id === wanted || stackNameOf(id, artifact) === wanted || artifact.displayName === wanted,
  );
  if (!match) {
    throw new CloudAssemblyError(
      `the cloud assembly ${dir} has no stack "${wanted}" (stacks: ${names.join(', ')})`,
    );
  }
  return match;
}

/** The stack's asset manifest file: the `cdk:asset-manifest` artifact it depends on, else `<id>.assets.json`. */
function assetManifestPath(
  artifacts: Record<string, Artifact>,
  id: string,
  stack: Artifact,
  dir: string,
): string {
  const dependencies = Array.isArray(stack.dependencies) ? stack.dependencies : [];
  for (const dependency of dependencies) {
    const artifact = typeof dependency === 'string' ? artifacts[dependency] : undefined;
    const file = artifact?.properties?.file;
    if (artifact?.type === ASSET_MANIFEST_ARTIFACT && typeof file === 'string')
      return path.resolve(dir, file);
  }
  return path.resolve(dir, `${id}.assets.json`);
}

async function readFileAssets(manifestPath: string): Promise<Record<string, FileAsset>> {
  if ((await isDirectory(manifestPath)) === undefined) return {};
  const manifest = await readJson(manifestPath, 'asset manifest');
  return isObject(manifest) && isObject(manifest.files) ? (manifest.files as Record<string, FileAsset>) : {};
}

/** Where a function's code lies, by asset metadata or, failing that, by its `Code.S3Key`. */
function assetSourceOf(
  resource: CfnResource,
  assets: Record<string, FileAsset>,
  assemblyDir: string,
  manifestDir: string,
): string | undefined {
  const fromMetadata = resource.Metadata?.[ASSET_PATH_METADATA];
  if (typeof fromMetadata === 'string') return path.resolve(assemblyDir, fromMetadata);
  const code = resource.Properties?.Code;
  const key = isObject(code) ? code.S3Key : undefined;
  if (typeof key !== 'string') return undefined;
  const hash = key.replace(/\.zip$/, '');
  for (const [assetId, asset] of Object.entries(assets)) {
    const keys = Object.values(asset.destinations ?? {}).map((destination) => destination.objectKey);
    const source = asset.source?.path;
    if ((assetId === hash || keys.includes(key)) && typeof source === 'string') {
      return path.resolve(manifestDir, source);
    }
  }
  return undefined;
}

/**
 * Loads `stackName` (or the only stack) from the cloud assembly in `dir`. Fails early, naming the
 * function, when a function's asset directory is missing: a stale or partial `cdk.out` would otherwise
 * surface later as a handler that cannot be imported.
 */
export async function loadCloudAssembly(dir: string, stackName?: string): Promise<CloudAssembly> {
  const directory = path.resolve(dir);
  const manifest = await readJson(path.join(directory, 'manifest.json'), 'cloud assembly manifest');
  const artifacts =
    isObject(manifest) && isObject(manifest.artifacts)
      ? (manifest.artifacts as Record<string, Artifact>)
      : {};
  const [artifactId, stack] = selectStack(artifacts, stackName, directory);

  const templateFile = stack.properties?.templateFile;
  if (typeof templateFile !== 'string') {
    throw new CloudAssemblyError(`stack artifact "${artifactId}" in ${directory} names no templateFile`);
  }
  const templatePath = path.resolve(directory, templateFile);
  const template = await readJson(templatePath, 'template');
  if (!isObject(template) || !isObject(template.Resources)) {
    throw new CloudAssemblyError(`the template ${templatePath} has no Resources section`);
  }
  const cfnTemplate = template as unknown as CfnTemplate;

  const manifestPath = assetManifestPath(artifacts, artifactId, stack, directory);
  const assets = await readFileAssets(manifestPath);
  const assetDirs = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(cfnTemplate.Resources)) {
    if (resource.Type !== LAMBDA_FUNCTION) continue;
    const source = assetSourceOf(resource, assets, directory, path.dirname(manifestPath));
    if (source === undefined) continue;
    const directoryExists = await isDirectory(source);
    if (directoryExists === undefined) {
      throw new CloudAssemblyError(
        `the code of function ${logicalId} should be at ${source}, which does not exist; run \`npm run synth\` again`,
      );
    }
    if (!directoryExists) {
      throw new CloudAssemblyError(
        `the code of function ${logicalId} is the file ${source}; the local runtime runs directory assets ` +
          '(NodejsFunction or Code.fromAsset(<directory>))',
      );
    }
    assetDirs.set(logicalId, source);
  }

  return {
    stackName: stackNameOf(artifactId, stack),
    directory,
    template: cfnTemplate,
    templatePath,
    assetDirFor: (logicalId) => assetDirs.get(logicalId),
  };
}
