/**
 * The intrinsic resolver against the real synthesized Buzzer template (cdk.out, synthesized by the test
 * global setup): everything resolves to local names, URLs and ARNs, and the pieces point at each other.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { moduleFor } from '#local/resources/index.ts';
import { classifyResources } from '#local/resources/support.ts';
import { type CloudAssembly, loadCloudAssembly } from '#local/template/assembly.ts';
import { dependencyOrder } from '#local/template/graph.ts';
import { type LocalEndpoints, LocalNames } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import { DEFAULT_ACCOUNT } from '#local/types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const endpoints: LocalEndpoints = {
  dynamodb: 'http://127.0.0.1:8000',
  sqs: 'http://127.0.0.1:9324',
  gateway: 'http://127.0.0.1:4010',
  httpApi: (logicalId) => `http://127.0.0.1:3000/${logicalId}`,
};

let assembly: CloudAssembly;
let resolved: Record<string, { Type: string; Properties: Record<string, unknown> }>;
let names: LocalNames;

const ofType = (type: string) => Object.entries(resolved).filter(([, r]) => r.Type === type);
const envOf = (props: Record<string, unknown>) =>
  ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<
    string,
    unknown
  >;

function findIntrinsics(value: unknown, at: string, found: string[]): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) findIntrinsics(v, `${at}[${i}]`, found);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' || k.startsWith('Fn::')) found.push(`${at}.${k}`);
      findIntrinsics(v, `${at}.${k}`, found);
    }
  }
}

beforeAll(async () => {
  assembly = await loadCloudAssembly(path.join(root, 'cdk.out'));
  const account = { ...DEFAULT_ACCOUNT, stackName: assembly.stackName };
  names = new LocalNames(assembly.template, account, endpoints);
  const resolver = new TemplateResolver(assembly.template, account, names);
  resolved = {};
  for (const id of dependencyOrder(assembly.template, account)) {
    const resource = assembly.template.Resources[id];
    if (!resource) continue;
    if (resource.Type === 'AWS::DynamoDB::Table') {
      names.setAttribute(
        id,
        'StreamArn',
        `arn:aws:dynamodb:ddblocal:000000000000:table/${names.physicalName(id)}/stream/x`,
      );
    }
    resolved[id] = { Type: resource.Type, Properties: resolver.resolveProperties(id) };
  }
});

describe('the real synthesized template', () => {
  it('resolves every property of every resource: no intrinsic is left', () => {
    const found: string[] = [];
    for (const [id, r] of Object.entries(resolved)) findIntrinsics(r.Properties, id, found);
    expect(found).toEqual([]);
  });

  it('has no resource type the local runtime cannot run', () => {
    expect(classifyResources(assembly.template).unsupported).toEqual({});
  });

  it("parses every supported resource's properties with its module's schema", () => {
    for (const [id, r] of Object.entries(resolved)) {
      const module = moduleFor(r.Type);
      if (module) expect(() => module.parse(id, { Type: r.Type }, r.Properties), id).not.toThrow();
    }
  });

  it('finds a code directory for every function', () => {
    expect(ofType('AWS::Lambda::Function').length).toBeGreaterThan(15);
    for (const [id] of ofType('AWS::Lambda::Function'))
      expect(assembly.assetDirFor(id), id).toMatch(/asset\./);
  });

  it('wires functions to the local names of the resources they use', () => {
    const functions = ofType('AWS::Lambda::Function').map(([, r]) => envOf(r.Properties));
    const tableNames = new Set(ofType('AWS::DynamoDB::Table').map(([id]) => names.physicalName(id)));
    const busNames = new Set(ofType('AWS::Events::EventBus').map(([id]) => names.physicalName(id)));
    const queueUrls = new Set(
      ofType('AWS::SQS::Queue').map(([id]) => names.ref(id, assembly.template.Resources[id]!)),
    );
    for (const env of functions) {
      for (const value of Object.values(env)) expect(typeof value).toBe('string');
      if (env.TABLE_NAME) expect(tableNames).toContain(env.TABLE_NAME);
      if (env.EVENT_BUS_NAME) expect(busNames).toContain(env.EVENT_BUS_NAME);
      if (env.RELAY_DLQ_URL) expect(queueUrls).toContain(env.RELAY_DLQ_URL);
    }
    const paymentUrls = functions.map((e) => e.PAYMENT_PROVIDER_URL).filter(Boolean);
    expect(paymentUrls.length).toBeGreaterThan(0);
    for (const url of paymentUrls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:3000\/Sandbox/);
  });

  it('points the state machine at the step functions and every mapping at a function', () => {
    const functionArns = new Set(
      ofType('AWS::Lambda::Function').map(([id]) =>
        names.getAtt(id, assembly.template.Resources[id]!, 'Arn'),
      ),
    );
    const functionNames = new Set(ofType('AWS::Lambda::Function').map(([id]) => names.physicalName(id)));
    const [, machine] = ofType('AWS::StepFunctions::StateMachine')[0] ?? [];
    const definition = JSON.parse(String(machine?.Properties.DefinitionString)) as {
      States: Record<string, { Parameters?: { FunctionName?: string } }>;
    };
    const targets = Object.values(definition.States).flatMap((s) => s.Parameters?.FunctionName ?? []);
    expect(targets.length).toBe(6);
    for (const arn of targets) expect(functionArns).toContain(arn);
    for (const [id, m] of ofType('AWS::Lambda::EventSourceMapping')) {
      expect(functionNames, id).toContain(m.Properties.FunctionName);
    }
  });

  it('targets rules at local queue ARNs', () => {
    const queueArns = new Set(
      ofType('AWS::SQS::Queue').map(([id]) => names.getAtt(id, assembly.template.Resources[id]!, 'Arn')),
    );
    let sqsTargets = 0;
    for (const [id, rule] of ofType('AWS::Events::Rule')) {
      for (const t of rule.Properties.Targets as Array<{ Arn: string }>) {
        if (!t.Arn.includes(':sqs:')) continue;
        sqsTargets++;
        expect(queueArns, id).toContain(t.Arn);
      }
    }
    // The saga start, notify, points and webhook fan-out queues at least: an empty loop would prove nothing.
    expect(sqsTargets).toBeGreaterThanOrEqual(4);
  });
});
