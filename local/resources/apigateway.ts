import { z } from 'zod';
import { createApiGatewayManagementService } from '#local/engines/rest-api/management.ts';
import {
  collectRestApis,
  collectUsagePlans,
  type RunningRestApi,
  startRestApi,
  UsagePlans,
} from '#local/engines/rest-api.ts';
import { defineResource, resolvedParts } from './module.ts';

/**
 * `AWS::ApiGateway::*` (REST APIs) → a local HTTP server per REST API that serves each stage under its name, builds
 * Lambda proxy events and enforces the usage plans. An API is assembled from many resources (resource tree, methods,
 * authorizers, stages, gateway responses; usage plans and keys across APIs), so they start together; the engine's
 * definition reader (`#local/engines/rest-api/definition.ts`) parses each type's properties with its own schema. The
 * usage plans' keys can be managed at run time through the API Gateway SDK on the runtime's gateway endpoint.
 */
export const restApi = defineResource({
  types: [
    'AWS::ApiGateway::RestApi',
    'AWS::ApiGateway::Resource',
    'AWS::ApiGateway::Method',
    'AWS::ApiGateway::Deployment',
    'AWS::ApiGateway::Stage',
    'AWS::ApiGateway::Authorizer',
    'AWS::ApiGateway::GatewayResponse',
    'AWS::ApiGateway::UsagePlan',
    'AWS::ApiGateway::ApiKey',
    'AWS::ApiGateway::UsagePlanKey',
  ],
  engine:
    'local HTTP server per REST API (stage in the path, Lambda proxy events, TOKEN/REQUEST authorizers, usage plans with rate, burst and quota per key, gateway responses); keys managed through the API Gateway SDK on the gateway endpoint',
  properties: z.looseObject({
    // Every part of an API names it; the API, usage plans and keys do not.
    RestApiId: z.string().optional(),
  }),
  async startAll(parts, context) {
    const { names, engines, logger, account, iamCredentials, started, onStop } = context;
    const { resources, resourceOf } = resolvedParts(parts, context);
    const restNames = {
      ref: (logicalId: string) => names.ref(logicalId, resourceOf(logicalId)),
      rootResourceId: (logicalId: string) =>
        String(names.getAtt(logicalId, resourceOf(logicalId), 'RootResourceId')),
    };
    const usagePlans = new UsagePlans(collectUsagePlans(resources, restNames), context.gatewayClock);
    engines.gateway.registerRestJsonService(createApiGatewayManagementService(usagePlans));
    const servers: RunningRestApi[] = [];
    onStop('REST APIs', async () => {
      await Promise.all(servers.map((s) => s.stop()));
    });
    for (const definition of collectRestApis(resources, restNames)) {
      servers.push(
        await startRestApi({
          ...definition,
          invoker: engines.lambda,
          usagePlans,
          logger,
          port: context.httpApiPort(definition.apiLogicalId),
          account,
          iamCredentials,
          ...(context.gatewayClock ? { clock: context.gatewayClock } : {}),
        }),
      );
      started.httpApis[definition.apiLogicalId] = context.httpApiUrl(definition.apiLogicalId);
    }
  },
});
