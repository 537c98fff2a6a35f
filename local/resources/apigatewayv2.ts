import { z } from 'zod';
import { collectHttpApis, type RunningHttpApi, startHttpApi } from '#local/engines/http-api.ts';
import type { CfnTemplate } from '#local/types.ts';
import { defineResource, resolvedParts } from './module.ts';

/**
 * `AWS::ApiGatewayV2::*` (HTTP APIs) → a local HTTP server per API that builds API Gateway v2 (payload 2.0) events.
 * An API is assembled from several resources (routes, integrations, authorizers), so they start together; the
 * engine's definition reader (`#local/engines/http-api/definition.ts`) checks routes, targets and authorizers.
 */
/** Every group of the template's user pools: the local token's user is in all of them. */
function userPoolGroups(template: CfnTemplate): string[] {
  return Object.values(template.Resources)
    .filter((resource) => resource.Type === 'AWS::Cognito::UserPoolGroup')
    .map((resource) => resource.Properties?.GroupName)
    .filter((name): name is string => typeof name === 'string');
}

export const httpApi = defineResource({
  types: [
    'AWS::ApiGatewayV2::Api',
    'AWS::ApiGatewayV2::Route',
    'AWS::ApiGatewayV2::Integration',
    'AWS::ApiGatewayV2::Authorizer',
    'AWS::ApiGatewayV2::Stage',
  ],
  engine: 'local HTTP server that builds API Gateway v2 (payload 2.0) events',
  properties: z.looseObject({
    // Every part of an API names it; the API itself does not.
    ApiId: z.string().optional(),
    ProtocolType: z.string().optional(),
    RouteKey: z.string().optional(),
  }),
  async startAll(parts, context) {
    const { names, engines, logger, account, iamCredentials, started, onStop } = context;
    const { resources, resourceOf } = resolvedParts(parts, context);
    const servers: RunningHttpApi[] = [];
    onStop('HTTP APIs', async () => {
      await Promise.all(servers.map((s) => s.stop()));
    });
    const refOf = (logicalId: string) => names.ref(logicalId, resourceOf(logicalId));
    for (const definition of collectHttpApis(resources, refOf)) {
      const port = context.httpApiPort(definition.apiLogicalId);
      servers.push(
        await startHttpApi({
          ...definition,
          invoker: engines.lambda,
          logger,
          port,
          account,
          iamCredentials,
          clock: context.gatewayClock,
          ...(context.jwtIssuer ? { jwtIssuer: context.jwtIssuer } : {}),
        }),
      );
      const url = context.httpApiUrl(definition.apiLogicalId);
      started.httpApis[definition.apiLogicalId] = url;
      const jwt = Object.values(definition.jwtAuthorizers ?? {})[0];
      if (jwt && context.jwtIssuer) {
        started.jwtTokens[url] = context.jwtIssuer.mint({
          issuer: jwt.issuer,
          clientId: jwt.audience[0] ?? '',
          subject: 'local-operator',
          groups: userPoolGroups(context.assembly.template),
        });
      }
    }
  },
});
