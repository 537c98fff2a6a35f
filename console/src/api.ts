/** The console API (console/server/api.ts), on the origin that served the page. */

export class ApiError extends Error {
  override name = 'ApiError';
}

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(body.error ?? `${response.status} ${response.statusText}`);
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return answer<T>(await fetch(`api/${path}`, { headers: { accept: 'application/json' } }));
}

/** An operator action (redrive, replay): JSON, so the server knows it comes from this page (server.ts). */
export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return answer<T>(
    await fetch(`api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

export interface ConsoleConfig {
  stackName: string;
  kind: string;
  region: string;
  clients: string[];
}
