import { describe, expect, it } from 'vitest';
import { OperatorError } from '#ops/cli/context.ts';
import { type ApiGatewaySdk, sdkUsagePlanKeys } from '#ops/cli/usage-plans.ts';

/** `@aws-sdk/client-api-gateway` as far as the CLI uses it: commands carry their input, the client answers. */
function fakeSdk(answer: (command: string, input: Record<string, unknown>) => unknown) {
  const sent: [string, Record<string, unknown>][] = [];
  const command = (name: string) =>
    class {
      readonly name = name;
      constructor(readonly input: Record<string, unknown>) {}
    };
  const sdk = {
    APIGatewayClient: class {
      constructor(readonly config: { region: string; endpoint?: string }) {}
      async send(cmd: { name: string; input: Record<string, unknown> }) {
        sent.push([cmd.name, cmd.input]);
        return answer(cmd.name, cmd.input);
      }
      destroy() {}
    },
    GetApiKeysCommand: command('GetApiKeys'),
    CreateApiKeyCommand: command('CreateApiKey'),
    UpdateApiKeyCommand: command('UpdateApiKey'),
    CreateUsagePlanKeyCommand: command('CreateUsagePlanKey'),
    DeleteApiKeyCommand: command('DeleteApiKey'),
  } as unknown as ApiGatewaySdk;
  return { sdk, sent };
}

const TARGET = { region: 'us-east-1' };
const REQUEST = { name: 'Buzzer-acme', value: 'bzu0123', usagePlanId: 'plan-1' };

describe('API Gateway keys of the REST flavour', () => {
  it('creates the client key with its usage identifier and attaches it to the plan', async () => {
    const { sdk, sent } = fakeSdk((name) =>
      name === 'GetApiKeys'
        ? { items: [{ id: 'other', name: 'Buzzer-acme2', enabled: true }] }
        : { id: 'k-1' },
    );

    const result = await sdkUsagePlanKeys(TARGET, async () => sdk).attach(REQUEST);

    expect(result).toEqual({ apiKeyId: 'k-1', created: true });
    expect(sent).toEqual([
      ['GetApiKeys', { nameQuery: 'Buzzer-acme', includeValues: false, limit: 500 }],
      ['CreateApiKey', expect.objectContaining({ name: 'Buzzer-acme', value: 'bzu0123', enabled: true })],
      ['CreateUsagePlanKey', { usagePlanId: 'plan-1', keyId: 'k-1', keyType: 'API_KEY' }],
    ]);
  });

  it('enables an existing disabled key, and takes an existing attachment as done', async () => {
    const { sdk, sent } = fakeSdk((name) => {
      if (name === 'GetApiKeys') return { items: [{ id: 'k-1', name: 'Buzzer-acme', enabled: false }] };
      if (name === 'CreateUsagePlanKey')
        throw Object.assign(new Error('exists'), { name: 'ConflictException' });
      return {};
    });

    const result = await sdkUsagePlanKeys(TARGET, async () => sdk).attach(REQUEST);

    expect(result).toEqual({ apiKeyId: 'k-1', created: false });
    expect(sent.map(([name]) => name)).toEqual(['GetApiKeys', 'UpdateApiKey', 'CreateUsagePlanKey']);
    expect(sent[1]?.[1]).toEqual({
      apiKey: 'k-1',
      patchOperations: [{ op: 'replace', path: '/enabled', value: 'true' }],
    });
  });

  it('deletes the client key by its exact name, and says when there was none', async () => {
    const { sdk, sent } = fakeSdk((name) =>
      name === 'GetApiKeys' ? { items: [{ id: 'k-1', name: 'Buzzer-acme', enabled: true }] } : {},
    );
    const keys = sdkUsagePlanKeys(TARGET, async () => sdk);

    expect(await keys.remove('Buzzer-acme')).toBe(true);
    expect(sent.at(-1)).toEqual(['DeleteApiKey', { apiKey: 'k-1' }]);
    expect(await keys.remove('Buzzer-nobody')).toBe(false);
  });

  it('says which package is missing when the SDK client is not installed', async () => {
    const keys = sdkUsagePlanKeys(TARGET, async () => {
      throw new OperatorError('needs @aws-sdk/client-api-gateway');
    });

    await expect(keys.attach(REQUEST)).rejects.toThrow('@aws-sdk/client-api-gateway');
  });
});
