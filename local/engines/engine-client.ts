import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';

/**
 * Settings for the runtime's own SDK clients of its engines (the SQS and stream pollers, the Lambda service's reads of
 * DynamoDB Local). The engines check no signature, so these requests carry one fixed SigV4-shaped `Authorization`
 * header (DynamoDB Local refuses a request without one) instead of a signature computed per request: computing it was
 * about a tenth of the main thread's time under load (docs/profile.md). Function code signs in its workers, as on AWS.
 */
export function engineClientConfig(region: string) {
  const authorization =
    `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20260101/${region}/local/aws4_request, ` +
    `SignedHeaders=host, Signature=${'0'.repeat(64)}`;
  return {
    region,
    credentials: LOCAL_CREDENTIALS,
    signer: {
      sign: async <Request extends { headers: Record<string, string> }>(request: Request) => {
        request.headers.authorization = authorization;
        return request;
      },
    },
  };
}
