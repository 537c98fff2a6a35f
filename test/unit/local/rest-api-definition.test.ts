/**
 * The REST API definition reader's refusals (what the local gateway cannot serve stops the start with the logical
 * id) and the usage plans' quota periods.
 */
import { describe, expect, it } from 'vitest';
import { collectRestApis, RestApiConfigError } from '#local/engines/rest-api/definition.ts';
import { quotaPeriodStart, TokenBucket } from '#local/engines/rest-api/usage-plans.ts';
import type { CfnResource } from '#local/types.ts';

const names = { ref: (logicalId: string) => `id-${logicalId}`, rootResourceId: () => 'root' };

function api(method: Record<string, unknown>): Record<string, CfnResource> {
  return {
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'test' } },
    Orders: {
      Type: 'AWS::ApiGateway::Resource',
      Properties: { RestApiId: 'id-Api', ParentId: 'root', PathPart: 'orders' },
    },
    Method: {
      Type: 'AWS::ApiGateway::Method',
      Properties: { RestApiId: 'id-Api', ResourceId: 'id-Orders', HttpMethod: 'post', ...method },
    },
  };
}

describe('collectRestApis', () => {
  it('names the method and what it lacks when the integration cannot run locally', () => {
    const read = () => collectRestApis(api({ Integration: { Type: 'HTTP_PROXY', Uri: 'https://x' } }), names);
    expect(read).toThrow(RestApiConfigError);
    expect(read).toThrow(/method Method: Integration.Type HTTP_PROXY is not supported locally/);
  });

  it('refuses a MOCK whose response template is VTL, which it would not evaluate', () => {
    const integration = {
      Type: 'MOCK',
      IntegrationResponses: [{ StatusCode: 204, ResponseTemplates: { 'application/json': '#set($o = 1)' } }],
    };
    expect(() => collectRestApis(api({ Integration: integration }), names)).toThrow(/is VTL/);
  });

  it('names the property of the wrong shape', () => {
    expect(() => collectRestApis(api({ AuthorizationType: 'SOMETIMES' }), names)).toThrow(
      /AWS::ApiGateway::Method Method: Properties\.AuthorizationType/,
    );
  });

  it('builds the route key from the resource tree, upper-casing the method', () => {
    const [definition] = collectRestApis(
      api({
        Integration: {
          Type: 'AWS_PROXY',
          Uri: 'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations',
        },
      }),
      names,
    );
    expect(definition?.methods[0]).toMatchObject({
      routeKey: 'POST /orders',
      resourceId: 'id-Orders',
      integration: {
        type: 'AWS_PROXY',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        timeoutMs: 29_000,
      },
    });
  });
});

describe('usage plan metering', () => {
  it('starts quota periods in UTC: the day, the week on its offset weekday, the month on its offset day', () => {
    const wednesday = Date.UTC(2026, 0, 7, 15, 30);
    expect(quotaPeriodStart({ limit: 1, period: 'DAY', offset: 0 }, wednesday)).toBe(Date.UTC(2026, 0, 7));
    expect(quotaPeriodStart({ limit: 1, period: 'WEEK', offset: 0 }, wednesday)).toBe(Date.UTC(2026, 0, 4));
    expect(quotaPeriodStart({ limit: 1, period: 'WEEK', offset: 4 }, wednesday)).toBe(Date.UTC(2026, 0, 1));
    expect(quotaPeriodStart({ limit: 1, period: 'MONTH', offset: 9 }, wednesday)).toBe(
      Date.UTC(2025, 11, 10),
    );
    expect(quotaPeriodStart({ limit: 1, period: 'MONTH', offset: 0 }, wednesday)).toBe(Date.UTC(2026, 0, 1));
  });

  it('lets a burst through at once, then the rate', () => {
    const bucket = new TokenBucket({ rateLimit: 10, burstLimit: 3 }, 0);
    expect([0, 0, 0, 0].map(() => bucket.take(0))).toEqual([true, true, true, false]);
    expect([bucket.take(100), bucket.take(100)]).toEqual([true, false]);
    expect([1, 2, 3, 4].map(() => bucket.take(10_000))).toEqual([true, true, true, false]);
  });
});
