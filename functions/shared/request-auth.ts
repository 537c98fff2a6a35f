import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * How a caller proves who it is to an HTTP service it calls: SigV4 for the sandbox API (an API Gateway route with
 * AWS_IAM authorization), a bearer key for a real payment provider. One module, so every caller (saga payment steps,
 * the mail worker, tests, chaos, bench, the local runtime) signs the same way.
 */

/** The parts of an outgoing request that authentication covers. */
export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RequestAuthenticator {
  /** The headers to send: `request.headers` plus the authentication headers. */
  headersFor(request: OutgoingRequest): Promise<Record<string, string>>;
}

/** API Gateway's signing name: an HTTP API route with AWS_IAM authorization checks SigV4 for this service. */
export const EXECUTE_API_SERVICE = 'execute-api';

export interface SigV4Options {
  region: string;
  /** @default the default credential chain (a Lambda function's execution role, the operator's profile…) */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** Signs requests with AWS Signature Version 4 for `execute-api`. */
export class SigV4Authenticator implements RequestAuthenticator {
  private readonly signer: SignatureV4;

  constructor(options: SigV4Options) {
    this.signer = new SignatureV4({
      service: EXECUTE_API_SERVICE,
      region: options.region,
      // The default provider caches the credentials and refreshes them before they expire.
      credentials: options.credentials ?? defaultProvider(),
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  async headersFor(request: OutgoingRequest): Promise<Record<string, string>> {
    const url = new URL(request.url);
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of url.searchParams) {
      const seen = query[name];
      query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    const signed = await this.signer.sign({
      method: request.method.toUpperCase(),
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      // fetch sends `host` from the URL; it is signed here and left out of the headers handed back.
      headers: { ...lowerCased(request.headers), host: url.host },
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    const { host: _host, ...headers } = signed.headers;
    return headers;
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** Sends the request unchanged: for a caller that has nothing to prove. */
export const NO_AUTHENTICATION: RequestAuthenticator = {
  headersFor: async (request) => request.headers,
};

/** The SigV4 authenticator of a Lambda function: its region and its execution role's credentials. */
export function sigV4FromEnvironment(env: NodeJS.ProcessEnv = process.env): SigV4Authenticator {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new Error('AWS_REGION is not set: cannot sign requests with SigV4');
  return new SigV4Authenticator({ region });
}

/**
 * The SigV4 authenticator for calling a deployed API from outside it (tests, chaos, operators): the region from an
 * `execute-api` host name, else from the environment; the credentials from the default chain.
 */
export function sigV4ForUrl(url: string, env: NodeJS.ProcessEnv = process.env): SigV4Authenticator {
  const region = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(url).hostname)?.[1];
  return region ? new SigV4Authenticator({ region }) : sigV4FromEnvironment(env);
}

export interface AuthenticatedInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** `fetch` with the authenticator's headers, through `send` (a transport that retries, say) when given. */
export async function authenticatedFetch(
  auth: RequestAuthenticator,
  url: string,
  init: AuthenticatedInit = {},
  send?: (request: Request) => Promise<Response>,
): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers = await auth.headersFor({
    method,
    url,
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const request = {
    method,
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  };
  return send ? send(new Request(url, request)) : fetch(url, request);
}
