import { beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '#functions/api/openapi.ts';
import { synthBuzzer } from './synth.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** `METHOD /path` of every operation the OpenAPI document describes. */
function documentedRoutes(): string[] {
  const { paths } = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

describe('the OpenAPI document against the synthesized client API', () => {
  let routes: Array<{ key: string; authorization: unknown }>;

  beforeAll(() => {
    const synth = synthBuzzer({ sandbox: true });
    const resources = synth.template.toJSON().Resources as Resources;
    const clientApi = Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::ApiGatewayV2::Api' && id.startsWith('ApiHttpApi'),
    )?.[0];
    routes = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .filter((r) => (r.Properties.ApiId as { Ref?: string }).Ref === clientApi)
      .map((r) => ({ key: String(r.Properties.RouteKey), authorization: r.Properties.AuthorizationType }));
  });

  it('describes every route of the client API, and no route the API does not have', () => {
    expect(routes.map((r) => r.key).sort()).toEqual(documentedRoutes().sort());
  });

  it('serves only the document without the API key authorizer', () => {
    const open = routes.filter((r) => r.authorization !== 'CUSTOM').map((r) => [r.key, r.authorization]);
    expect(open).toEqual([['GET /openapi.json', 'NONE']]);
  });
});
