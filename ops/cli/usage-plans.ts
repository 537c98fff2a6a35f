/**
 * The REST flavour's API Gateway API keys: one per client, whose value is the client's usage identifier (the value the
 * authorizer returns as `usageIdentifierKey`, `usageIdentifierOf`), attached to the client's usage plan. It is how API
 * Gateway finds the plan whose throttle and quota apply to the client; it is not a credential (clients never send it,
 * `apiKeySource` is AUTHORIZER) and it is never the client's secret key.
 *
 * The calls go through `UsagePlanKeys`, so the key commands do not depend on the SDK client's presence:
 * `@aws-sdk/client-api-gateway` is loaded only when a REST stack needs it.
 */
import { OperatorError, type OpsTarget } from './context.ts';

export interface UsagePlanKeys {
  /**
   * Makes sure the client has an enabled API key with this value, attached to the plan. Idempotent: a second call
   * (another key of the same client) finds the key and the attachment and changes nothing.
   */
  attach(request: {
    name: string;
    value: string;
    usagePlanId: string;
  }): Promise<{ apiKeyId: string; created: boolean }>;
  /** Deletes the client's API key (and with it its plan attachments); false when there was none. */
  remove(name: string): Promise<boolean>;
  close(): void;
}

/** The API key's name: the stack and the client, so two stacks in one account keep theirs apart. */
export const usageKeyName = (stackName: string, clientId: string): string => `${stackName}-${clientId}`;

/** The subset of `@aws-sdk/client-api-gateway` used here. */
export interface ApiGatewaySdk {
  APIGatewayClient: new (config: {
    region: string;
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  }) => {
    send(command: unknown): Promise<unknown>;
    destroy(): void;
  };
  GetApiKeysCommand: new (input: { nameQuery: string; includeValues: boolean; limit: number }) => unknown;
  CreateApiKeyCommand: new (input: {
    name: string;
    value: string;
    enabled: boolean;
    description: string;
  }) => unknown;
  UpdateApiKeyCommand: new (input: {
    apiKey: string;
    patchOperations: { op: string; path: string; value: string }[];
  }) => unknown;
  CreateUsagePlanKeyCommand: new (input: { usagePlanId: string; keyId: string; keyType: string }) => unknown;
  DeleteApiKeyCommand: new (input: { apiKey: string }) => unknown;
}

/** The package the REST flavour's key commands need; the version matches the project's other @aws-sdk clients. */
export const API_GATEWAY_SDK = '@aws-sdk/client-api-gateway';

async function loadSdk(): Promise<ApiGatewaySdk> {
  // A variable module name: the CLI type-checks and runs without the package until a REST stack needs it.
  const name: string = API_GATEWAY_SDK;
  try {
    return (await import(name)) as ApiGatewaySdk;
  } catch (error) {
    throw new OperatorError(
      `this stack's client API is the REST flavour, whose usage plans need ${API_GATEWAY_SDK} (add it next to the ` +
        `other @aws-sdk clients): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** `UsagePlanKeys` over API Gateway's management API (AWS, or the local runtime's endpoint for it). */
export function sdkUsagePlanKeys(
  target: Pick<OpsTarget, 'region' | 'apiGatewayEndpoint'> & {
    /** The local runtime's own (its seeding runs in a process without AWS credentials). @default the SDK's chain */
    credentials?: { accessKeyId: string; secretAccessKey: string };
  },
  load: () => Promise<ApiGatewaySdk> = loadSdk,
): UsagePlanKeys {
  let client: { sdk: ApiGatewaySdk; api: InstanceType<ApiGatewaySdk['APIGatewayClient']> } | undefined;
  const connect = async () => {
    if (!client) {
      const sdk = await load();
      const api = new sdk.APIGatewayClient({
        region: target.region,
        ...(target.apiGatewayEndpoint ? { endpoint: target.apiGatewayEndpoint } : {}),
        ...(target.credentials ? { credentials: target.credentials } : {}),
      });
      client = { sdk, api };
    }
    return client;
  };
  const find = async (name: string): Promise<{ id: string; enabled: boolean } | undefined> => {
    const { sdk, api } = await connect();
    const page = (await api.send(
      new sdk.GetApiKeysCommand({ nameQuery: name, includeValues: false, limit: 500 }),
    )) as {
      items?: { id?: string; name?: string; enabled?: boolean }[];
    };
    // nameQuery matches prefixes: `Buzzer-acme` also finds `Buzzer-acme2`.
    const found = page.items?.find((item) => item.name === name && item.id);
    return found?.id ? { id: found.id, enabled: found.enabled ?? false } : undefined;
  };
  return {
    async attach({ name, value, usagePlanId }) {
      const { sdk, api } = await connect();
      let key = await find(name);
      const created = key === undefined;
      if (!key) {
        const answer = (await api.send(
          new sdk.CreateApiKeyCommand({
            name,
            value,
            enabled: true,
            description: 'Buzzer client usage identifier (not a credential: the authorizer names it)',
          }),
        )) as { id?: string };
        if (!answer.id) throw new OperatorError(`API Gateway created API key ${name} without an id`);
        key = { id: answer.id, enabled: true };
      } else if (!key.enabled) {
        await api.send(
          new sdk.UpdateApiKeyCommand({
            apiKey: key.id,
            patchOperations: [{ op: 'replace', path: '/enabled', value: 'true' }],
          }),
        );
      }
      try {
        await api.send(new sdk.CreateUsagePlanKeyCommand({ usagePlanId, keyId: key.id, keyType: 'API_KEY' }));
      } catch (error) {
        // Already attached (another key of the same client): nothing to do.
        if (!(error instanceof Error && error.name === 'ConflictException')) throw error;
      }
      return { apiKeyId: key.id, created };
    },
    async remove(name) {
      const key = await find(name);
      if (!key) return false;
      const { sdk, api } = await connect();
      await api.send(new sdk.DeleteApiKeyCommand({ apiKey: key.id }));
      return true;
    },
    close() {
      client?.api.destroy();
    },
  };
}
