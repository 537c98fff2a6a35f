/**
 * Sign-in for the deployed console: OAuth 2.0 authorization code with PKCE (RFC 7636) against the operators' Cognito
 * user pool (its hosted sign-in), with WebCrypto for the challenge. The page keeps no secret; the access token goes in
 * the Authorization header of every operator API call, and its refresh token renews it until the session ends.
 *
 * A short module rather than a library: the flow is four requests' worth of code, and the console ships no
 * dependency beyond Lit. Everything the browser gives (storage, location, fetch) is passed in, so it is tested in Node.
 */

export interface AuthSettings {
  /** The hosted sign-in's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`). */
  signInUrl: string;
  clientId: string;
  scopes: readonly string[];
}

/** What the module needs from the browser. */
export interface AuthEnvironment {
  storage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  };
  /** The page's current URL. */
  href(): string;
  /** Leaves the page for `url` (the sign-in). */
  navigate(url: string): void;
  /** Replaces the page's URL without a reload (drops `?code=&state=` after the sign-in). */
  replaceUrl(url: string): void;
  fetch: typeof fetch;
  random(bytes: number): Uint8Array;
  sha256(data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  now(): number;
}

export class SignInError extends Error {
  override name = 'SignInError';
}

interface Tokens {
  accessToken: string;
  /** Epoch ms, with a minute of margin. */
  expiresAt: number;
  refreshToken?: string;
}

const KEY = {
  tokens: 'buzzer.auth.tokens',
  pending: 'buzzer.auth.pending',
} as const;

/** base64url without padding, as PKCE and OAuth state use it. */
export function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `S256` code challenge of a verifier: BASE64URL(SHA256(ASCII(verifier))). */
export async function codeChallenge(verifier: string, env: Pick<AuthEnvironment, 'sha256'>): Promise<string> {
  return base64url(new Uint8Array(await env.sha256(new TextEncoder().encode(verifier))));
}

export class Auth {
  constructor(
    private readonly settings: AuthSettings,
    private readonly env: AuthEnvironment,
  ) {}

  /** Where the sign-in returns to: the console's root (the app client's callback URL). */
  private redirectUri(): string {
    return new URL('./', this.env.href()).href.replace(/[?#].*$/, '');
  }

  private endpoint(path: string): string {
    return `${this.settings.signInUrl.replace(/\/+$/, '')}${path}`;
  }

  /**
   * A valid access token: the stored one, a refreshed one, or the one the sign-in just returned with (`?code=`).
   * Without any, it leaves for the sign-in and never resolves.
   */
  async token(): Promise<string> {
    const returned = await this.completeSignIn();
    if (returned) return returned;
    const stored = this.stored();
    if (stored && stored.expiresAt > this.env.now()) return stored.accessToken;
    if (stored?.refreshToken) {
      const refreshed = await this.refresh(stored.refreshToken).catch(() => undefined);
      if (refreshed) return refreshed;
    }
    return this.signIn();
  }

  /** The API said the token is no good (401): forget it and sign in again. */
  async rejected(): Promise<never> {
    this.env.storage.removeItem(KEY.tokens);
    return this.signIn();
  }

  /** Leaves for the hosted sign-in with a fresh PKCE verifier and state, remembering the page to come back to. */
  async signIn(): Promise<never> {
    const verifier = base64url(this.env.random(32));
    const state = base64url(this.env.random(16));
    const here = new URL(this.env.href());
    this.env.storage.setItem(KEY.pending, JSON.stringify({ verifier, state, hash: here.hash }));
    const url = new URL(this.endpoint('/oauth2/authorize'));
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.settings.clientId,
      redirect_uri: this.redirectUri(),
      scope: this.settings.scopes.join(' '),
      state,
      code_challenge: await codeChallenge(verifier, this.env),
      code_challenge_method: 'S256',
    }).toString();
    this.env.navigate(url.href);
    return new Promise<never>(() => {});
  }

  /** Ends the session at the sign-in too (its cookie), then comes back to the console, signed out. */
  signOut(): void {
    this.env.storage.removeItem(KEY.tokens);
    const url = new URL(this.endpoint('/logout'));
    url.search = new URLSearchParams({
      client_id: this.settings.clientId,
      logout_uri: this.redirectUri(),
    }).toString();
    this.env.navigate(url.href);
  }

  /** Back from the sign-in with `?code=&state=`: the code for tokens, with the verifier only this tab holds. */
  private async completeSignIn(): Promise<string | undefined> {
    const here = new URL(this.env.href());
    const code = here.searchParams.get('code');
    const error = here.searchParams.get('error');
    if (!code && !error) return undefined;
    const pending = this.env.storage.getItem(KEY.pending);
    this.env.storage.removeItem(KEY.pending);
    const { verifier, state, hash } = (pending ? JSON.parse(pending) : {}) as {
      verifier?: string;
      state?: string;
      hash?: string;
    };
    // The URL goes back to the console's own page either way: a code is used once.
    this.env.replaceUrl(`${this.redirectUri()}${hash ?? ''}`);
    if (error)
      throw new SignInError(`sign-in failed: ${here.searchParams.get('error_description') ?? error}`);
    if (!verifier || !state || here.searchParams.get('state') !== state)
      throw new SignInError('the sign-in answer does not match a sign-in this page started: sign in again');
    return this.exchange({
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: this.redirectUri(),
      code_verifier: verifier,
    });
  }

  private refresh(refreshToken: string): Promise<string> {
    return this.exchange({ grant_type: 'refresh_token', refresh_token: refreshToken }, refreshToken);
  }

  private async exchange(params: Record<string, string>, keptRefreshToken?: string): Promise<string> {
    const response = await this.env.fetch(this.endpoint('/oauth2/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: this.settings.clientId, ...params }).toString(),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      refresh_token?: string;
      error?: string;
    };
    if (!response.ok || !body.access_token)
      throw new SignInError(`the sign-in refused the token request: ${body.error ?? response.status}`);
    const refreshToken = body.refresh_token ?? keptRefreshToken;
    const tokens: Tokens = {
      accessToken: body.access_token,
      expiresAt: this.env.now() + Math.max(0, (body.expires_in ?? 3600) - 60) * 1000,
      ...(refreshToken ? { refreshToken } : {}),
    };
    // Session storage: this tab only, gone when it closes.
    this.env.storage.setItem(KEY.tokens, JSON.stringify(tokens));
    return tokens.accessToken;
  }

  private stored(): Tokens | undefined {
    const text = this.env.storage.getItem(KEY.tokens);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as Tokens;
    } catch {
      return undefined;
    }
  }
}

/** What the page's window gives, named here so this module also compiles (and is tested) outside a browser. */
interface BrowserGlobals {
  sessionStorage: AuthEnvironment['storage'];
  location: { href: string; assign(url: string): void };
  history: { replaceState(data: unknown, unused: string, url: string): void };
}

/** The browser's side of {@link AuthEnvironment}. */
export function browserEnvironment(): AuthEnvironment {
  const window = globalThis as unknown as BrowserGlobals;
  return {
    storage: window.sessionStorage,
    href: () => window.location.href,
    navigate: (url) => window.location.assign(url),
    replaceUrl: (url) => window.history.replaceState(null, '', url),
    fetch: (input, init) => fetch(input, init),
    random: (bytes) => crypto.getRandomValues(new Uint8Array(bytes)),
    sha256: (data) => crypto.subtle.digest('SHA-256', data),
    now: () => Date.now(),
  };
}
