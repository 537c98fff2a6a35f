/**
 * The operator API on the local runtime: the stack's HTTP API with its Cognito JWT authorizer (the local gateway
 * signs and checks the tokens in place of the user pool) in front of the same Lambda that deploys, serving the
 * console's routes and the batch routes. No token → 401 before the function; with the runtime's operator token the
 * DLQs are listed, bad input is a 400, and a settlement export for today runs to its end and shows in the runs.
 *
 * Local target only (vitest.config.ts): the token is the local runtime's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from './target.ts';

let target: Target;
let apiUrl: string;
let token: string;
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  target = await startTarget({ clients: [] });
  const info = target.runtime?.info;
  if (!info) throw new Error('the operator API scenarios need the local runtime');
  apiUrl = String(info.outputs.OperatorApiUrl);
  token = info.jwtTokens[apiUrl] ?? '';
  expect(token).not.toBe('');
});

afterAll(async () => {
  await target?.stop();
});

const call = async (path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
  const bearer = init.token === undefined ? token : init.token;
  const response = await fetch(`${apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('operator API (local runtime)', () => {
  it('refuses a request without a token, or with a forged one, before any function runs', async () => {
    expect((await call('/dlqs', { token: null })).status).toBe(401);
    expect((await call('/dlqs', { token: `${token.slice(0, -4)}AAAA` })).status).toBe(401);
  });

  it("lists the stack's DLQs for an operator", async () => {
    const { status, body } = await call('/dlqs');
    expect(status, JSON.stringify(body)).toBe(200);
    const aliases = (body.dlqs as Array<{ alias: string; depth: number }>).map((d) => d.alias);
    expect(aliases).toEqual(expect.arrayContaining(['notify', 'relay', 'webhooks-delivery']));
  });

  it('answers bad input with a 400 that says what is wrong', async () => {
    const { status, body } = await call('/batch/settlement', {
      method: 'POST',
      body: { date: '2026-02-30' },
    });
    expect(status, JSON.stringify(body)).toBe(400);
    expect(String(body.error)).toMatch(/date/);
  });

  it('runs the settlement export for a date on demand and lists the run', async () => {
    const started = await call('/batch/settlement', { method: 'POST', body: { date: today } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ date: today, partner: 'acquirer', status: 'RUNNING' });
    let run: Record<string, unknown> | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const { status, body } = await call(`/batch/runs?date=${today}`);
      expect(status).toBe(200);
      run = (body.runs as Array<Record<string, unknown>>).find(
        (r) => r.executionArn === started.body.executionArn,
      );
      if (run && run.status !== 'RUNNING') break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(run).toMatchObject({ date: today, status: 'SUCCEEDED', records: 0 });
  });
});
