// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${...} syntax (Fn::Sub, asset manifests) is data here, not a JS template.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCloudAssembly } from '#local/template/assembly.ts';
import { CloudAssemblyError } from '#local/template/errors.ts';
import { ids, loadFixtureTemplate } from '#test/fixtures/template/fixture.ts';

const ACCEPT_HASH = '1'.repeat(64);
const RELAY_HASH = '2'.repeat(64);
const TEMPLATE_HASH = '9'.repeat(64);

/** Builds `cdk.out` the way `cdk synth` lays it out: manifest, template, asset manifest, asset directories. */
async function writeAssembly(
  dir: string,
  options: { relaySourcePath?: string; extraStacks?: Record<string, unknown>; skipAssetDirs?: boolean } = {},
) {
  const relaySource = options.relaySourcePath ?? `asset.${RELAY_HASH}`;
  const manifest = {
    version: '48.0.0',
    artifacts: {
      'Buzzer.assets': {
        type: 'cdk:asset-manifest',
        properties: {
          file: 'Buzzer.assets.json',
          requiresBootstrapStackVersion: 6,
          bootstrapStackVersionSsmParameter: '/cdk-bootstrap/hnb659fds/version',
        },
      },
      Buzzer: {
        type: 'aws:cloudformation:stack',
        environment: 'aws://unknown-account/unknown-region',
        properties: {
          templateFile: 'Buzzer.template.json',
          terminationProtection: false,
          validateOnSynth: false,
          stackTemplateAssetObjectUrl: `s3://cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/${TEMPLATE_HASH}.json`,
        },
        dependencies: ['Buzzer.assets'],
        displayName: 'Buzzer',
      },
      Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
      ...options.extraStacks,
    },
  };
  const destination = (key: string) => ({
    'current_account-current_region-7f3c1b2a': {
      bucketName: 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}',
      objectKey: key,
      assumeRoleArn: 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-file-publishing-role',
    },
  });
  const assets = {
    version: '48.0.0',
    files: {
      [ACCEPT_HASH]: {
        displayName: 'AcceptFunction/Code',
        source: { path: `asset.${ACCEPT_HASH}`, packaging: 'zip' },
        destinations: destination(`${ACCEPT_HASH}.zip`),
      },
      [RELAY_HASH]: {
        displayName: 'RelayFunction/Code',
        source: { path: relaySource, packaging: 'zip' },
        destinations: destination(`${RELAY_HASH}.zip`),
      },
      [TEMPLATE_HASH]: {
        displayName: 'Buzzer Template',
        source: { path: 'Buzzer.template.json', packaging: 'file' },
        destinations: destination(`${TEMPLATE_HASH}.json`),
      },
    },
    dockerImages: {},
  };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(path.join(dir, 'Buzzer.template.json'), JSON.stringify(loadFixtureTemplate()));
  await writeFile(path.join(dir, 'Buzzer.assets.json'), JSON.stringify(assets));
  if (!options.skipAssetDirs) {
    await mkdir(path.join(dir, `asset.${ACCEPT_HASH}`));
    await writeFile(
      path.join(dir, `asset.${ACCEPT_HASH}`, 'index.mjs'),
      'export const handler = async () => 1;',
    );
    await mkdir(path.join(dir, relaySource), { recursive: true });
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected the promise to reject with an Error');
}

describe('loadCloudAssembly', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'buzzer-cdk-out-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the only stack, its template and the code directory of each function', async () => {
    // Arrange
    await writeAssembly(dir);

    // Act
    const assembly = await loadCloudAssembly(path.relative(process.cwd(), dir));

    // Assert
    expect(assembly.stackName).toBe('Buzzer');
    expect(assembly.directory).toBe(dir);
    expect(assembly.templatePath).toBe(path.join(dir, 'Buzzer.template.json'));
    expect(assembly.template.Resources[ids.accept]?.Type).toBe('AWS::Lambda::Function');
    expect(assembly.assetDirFor(ids.accept)).toBe(path.join(dir, `asset.${ACCEPT_HASH}`));
    expect(assembly.assetDirFor(ids.relay)).toBe(path.join(dir, `asset.${RELAY_HASH}`));
    expect(assembly.assetDirFor(ids.sagaStep)).toBeUndefined();
    expect(assembly.assetDirFor(ids.table)).toBeUndefined();
  });

  it('finds a function without asset metadata through Code.S3Key and the asset manifest', async () => {
    await writeAssembly(dir, { relaySourcePath: 'bundles/relay' });

    const assembly = await loadCloudAssembly(dir);

    expect(assembly.assetDirFor(ids.relay)).toBe(path.join(dir, 'bundles', 'relay'));
  });

  it('selects a stack by CloudFormation name or artifact id, and lists the stacks otherwise', async () => {
    await writeAssembly(dir, {
      extraStacks: {
        BuzzerDev: {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: 'Buzzer.template.json', stackName: 'buzzer-dev' },
        },
      },
    });

    const byName = await loadCloudAssembly(dir, 'buzzer-dev');
    const byId = await loadCloudAssembly(dir, 'BuzzerDev');
    const unnamed = await rejection(loadCloudAssembly(dir));
    const unknown = await rejection(loadCloudAssembly(dir, 'Nope'));

    expect(byName.stackName).toBe('buzzer-dev');
    expect(byId.stackName).toBe('buzzer-dev');
    expect(unnamed).toBeInstanceOf(CloudAssemblyError);
    expect(unnamed.message).toBe(
      `the cloud assembly ${dir} contains several stacks (Buzzer, buzzer-dev); name one`,
    );
    expect(unknown.message).toBe(
      `the cloud assembly ${dir} has no stack "Nope" (stacks: Buzzer, buzzer-dev)`,
    );
  });

  it('tells the user to synthesize when there is no cloud assembly', async () => {
    const error = await rejection(loadCloudAssembly(path.join(dir, 'missing')));

    expect(error).toBeInstanceOf(CloudAssemblyError);
    expect(error.name).toBe('CloudAssemblyError');
    expect(error.message).toMatch(
      /cannot read the cloud assembly manifest .*manifest\.json; run `npm run synth` first/,
    );
  });

  it('names the function whose asset directory is missing', async () => {
    await writeAssembly(dir, { skipAssetDirs: true });

    const error = await rejection(loadCloudAssembly(dir));

    expect(error).toBeInstanceOf(CloudAssemblyError);
    expect(error.message).toBe(
      `the code of function ${ids.accept} should be at ${path.join(dir, `asset.${ACCEPT_HASH}`)}, which does not ` +
        'exist; run `npm run synth` again',
    );
  });

  it('refuses a function whose asset is a file rather than a directory', async () => {
    await writeAssembly(dir, { relaySourcePath: 'bundles/relay' });
    await rm(path.join(dir, 'bundles', 'relay'), { recursive: true });
    await writeFile(path.join(dir, 'bundles', 'relay'), 'zip bytes');

    const error = await rejection(loadCloudAssembly(dir));

    expect(error.message).toMatch(/the code of function RelayFunction9A8B7C6D is the file .*bundles\/relay/);
  });

  it('rejects a template without Resources and a stack without a template file', async () => {
    await writeFile(path.join(dir, 'Empty.template.json'), '{}');
    await writeFile(
      path.join(dir, 'manifest.json'),
      JSON.stringify({
        artifacts: {
          Empty: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Empty.template.json' } },
          Broken: { type: 'aws:cloudformation:stack', properties: {} },
        },
      }),
    );

    const empty = await rejection(loadCloudAssembly(dir, 'Empty'));
    const broken = await rejection(loadCloudAssembly(dir, 'Broken'));

    expect(empty.message).toBe(
      `the template ${path.join(dir, 'Empty.template.json')} has no Resources section`,
    );
    expect(broken.message).toBe(`stack artifact "Broken" in ${dir} names no templateFile`);
  });
});
