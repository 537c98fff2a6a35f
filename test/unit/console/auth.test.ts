/**
 * The deployed console's sign-in (console/src/auth.ts: authorization code + PKCE against the hosted sign-in) and its
 * API client (console/src/api.ts): config.json decides between the local server without sign-in and the stack's
 * operator API with a bearer token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { operatorClient } from '#console/src/api.ts';
import { type AuthEnvironment, base64url, codeChallenge } from '#console/src/auth.ts';

const SIGN_IN = 'https://buzzer-ops.auth.eu-west-1.amazoncognito.com';
const API = 'https://ops.execute-api.eu-west-1.amazonaws.com';
const CONFIG = {
  stackName: 'Buzzer',
  apiUrl: API,
  auth: { signInUrl: SIGN_IN, clientId: 'client-1', scopes: ['openid', 'email'] },
};

interface Sent {
  url: string;
  init: RequestInit | undefined;
}

/** A browser in a test: its storage, URL and network are plain values the test reads. */
function browser(start: string, answer: (url: string, init?: RequestInit) => Response | undefined) {
  const storage = new Map<string, string>();
  const sent: Sent[] = [];
  const state = { href: start, navigatedTo: undefined as string | undefined };
  const env: AuthEnvironment = {
    storage: {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => void storage.set(k, v),
      removeItem: (k) => void storage.delete(k),
    },
    href: () => state.href,
    navigate: (url) => {
      state.navigatedTo = url;
    },
    replaceUrl: (url) => {
      state.href = url;
    },
    fetch: async (input, init) => {
      const url = String(input);
      sent.push({ url, init });
      return answer(url, init) ?? new Response('{"error":"not found"}', { status: 404 });
    },
    random: (n) => new Uint8Array(randomBytes(n)),
    sha256: async (data) => {
      const digest = createHash('sha256').update(data).digest();
      return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
    },
    now: () => 1_000_000,
  };
  return { env, storage, sent, state };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('PKCE', () => {
  it('makes the S256 challenge: base64url of the SHA-256 of the verifier, without padding', async () => {
    const { env } = browser('https://x/', () => undefined);
    for (const verifier of [
      'dBjftJeZ4CVP-mJ0kXYZaUY2nQrCUzD0AsaJtbxfRkM',
      base64url(new Uint8Array(randomBytes(32))),
    ]) {
      expect(await codeChallenge(verifier, env)).toBe(
        createHash('sha256').update(verifier).digest('base64url'),
      );
    }
    expect(base64url(new Uint8Array([251, 255, 254]))).toBe('-__-');
  });
});

describe('the console API client', () => {
  it('calls the local server under api/ without a token when the page has no config.json', async () => {
    const { env, sent } = browser('http://127.0.0.1:3100/#/dlqs', (url) =>
      url === 'api/dlqs' ? json({ dlqs: [] }) : undefined,
    );
    expect(await operatorClient(env).getJson('dlqs')).toEqual({ dlqs: [] });
    const call = sent.find((s) => s.url === 'api/dlqs');
    expect(new Headers(call?.init?.headers).has('authorization')).toBe(false);
  });

  it('without a token, leaves for the hosted sign-in with a PKCE challenge, the state and the page to return to', async () => {
    const { env, storage, state, sent } = browser('https://d1.cloudfront.net/#/sagas', (url) =>
      url === 'config.json' ? json(CONFIG) : undefined,
    );
    void operatorClient(env).getJson('sagas');
    await settle();
    const to = new URL(state.navigatedTo ?? '');
    expect(`${to.origin}${to.pathname}`).toBe(`${SIGN_IN}/oauth2/authorize`);
    const pending = JSON.parse(storage.get('buzzer.auth.pending') ?? '{}');
    expect(Object.fromEntries(to.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'client-1',
      redirect_uri: 'https://d1.cloudfront.net/',
      scope: 'openid email',
      state: pending.state,
      code_challenge: await codeChallenge(pending.verifier, env),
      code_challenge_method: 'S256',
    });
    expect(pending.hash).toBe('#/sagas');
    // Nothing reached the API without a token.
    expect(sent.map((s) => s.url)).toEqual(['config.json']);
  });

  it('back from the sign-in, trades the code and its verifier for a token, sends it, and restores the page', async () => {
    const { env, storage, state, sent } = browser('https://d1.cloudfront.net/?code=c-1&state=s-1', (url) => {
      if (url === 'config.json') return json(CONFIG);
      if (url === `${SIGN_IN}/oauth2/token`)
        return json({ access_token: 'at-1', refresh_token: 'rt-1', expires_in: 3600 });
      if (url === `${API}/sagas`) return json({ failed: [] });
      return undefined;
    });
    storage.set('buzzer.auth.pending', JSON.stringify({ verifier: 'v-1', state: 's-1', hash: '#/sagas' }));
    expect(await operatorClient(env).getJson('sagas')).toEqual({ failed: [] });
    const exchange = sent.find((s) => s.url.endsWith('/oauth2/token'));
    expect(Object.fromEntries(new URLSearchParams(String(exchange?.init?.body)))).toEqual({
      client_id: 'client-1',
      grant_type: 'authorization_code',
      code: 'c-1',
      redirect_uri: 'https://d1.cloudfront.net/',
      code_verifier: 'v-1',
    });
    const call = sent.find((s) => s.url === `${API}/sagas`);
    expect(new Headers(call?.init?.headers).get('authorization')).toBe('Bearer at-1');
    expect(state.href).toBe('https://d1.cloudfront.net/#/sagas');
    expect(storage.has('buzzer.auth.pending')).toBe(false);
  });

  it('refuses a sign-in answer whose state this tab did not start (no token request)', async () => {
    const { env, storage, sent } = browser('https://d1.cloudfront.net/?code=c-1&state=forged', (url) =>
      url === 'config.json' ? json(CONFIG) : undefined,
    );
    storage.set('buzzer.auth.pending', JSON.stringify({ verifier: 'v-1', state: 's-1' }));
    await expect(operatorClient(env).getJson('sagas')).rejects.toThrow(/does not match/);
    expect(sent.some((s) => s.url.endsWith('/oauth2/token'))).toBe(false);
  });

  it('renews an expired token with the refresh token, and signs in again when the API answers 401', async () => {
    let apiStatus = 200;
    const { env, storage, state, sent } = browser('https://d1.cloudfront.net/', (url) => {
      if (url === 'config.json') return json(CONFIG);
      if (url === `${SIGN_IN}/oauth2/token`) return json({ access_token: 'at-2', expires_in: 3600 });
      if (url === `${API}/dlqs`)
        return json(apiStatus === 200 ? { dlqs: [] } : { message: 'Unauthorized' }, apiStatus);
      return undefined;
    });
    storage.set(
      'buzzer.auth.tokens',
      JSON.stringify({ accessToken: 'old', expiresAt: 0, refreshToken: 'rt-1' }),
    );
    const client = operatorClient(env);
    await client.getJson('dlqs');
    const refresh = sent.find((s) => s.url.endsWith('/oauth2/token'));
    expect(new URLSearchParams(String(refresh?.init?.body)).get('grant_type')).toBe('refresh_token');
    expect(JSON.parse(storage.get('buzzer.auth.tokens') ?? '{}')).toMatchObject({
      accessToken: 'at-2',
      refreshToken: 'rt-1',
    });

    apiStatus = 401;
    void client.getJson('dlqs');
    await settle();
    expect(state.navigatedTo).toMatch(`${SIGN_IN}/oauth2/authorize?`);
    expect(storage.has('buzzer.auth.tokens')).toBe(false);
  });
});

describe('signing out of the console', () => {
  it('offers no sign-out on the local console, which has no sign-in', async () => {
    const { env, state } = browser('http://127.0.0.1:3100/#/dlqs', () => undefined);
    const client = operatorClient(env);
    expect(await client.signsIn()).toBe(false);
    await client.signOut();
    expect(state.navigatedTo).toBeUndefined();
  });

  it('forgets the tokens and ends the hosted sign-in session, coming back to the console', async () => {
    const { env, storage, state } = browser('https://d1.cloudfront.net/#/sagas', (url) =>
      url === 'config.json' ? json(CONFIG) : undefined,
    );
    storage.set('buzzer.auth.tokens', JSON.stringify({ accessToken: 'at-1', expiresAt: 9e15 }));
    const client = operatorClient(env);
    expect(await client.signsIn()).toBe(true);
    await client.signOut();
    expect(storage.has('buzzer.auth.tokens')).toBe(false);
    const to = new URL(state.navigatedTo ?? '');
    expect(`${to.origin}${to.pathname}`).toBe(`${SIGN_IN}/logout`);
    expect(Object.fromEntries(to.searchParams)).toEqual({
      client_id: 'client-1',
      logout_uri: 'https://d1.cloudfront.net/',
    });
  });
});
