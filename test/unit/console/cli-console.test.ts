/**
 * `buzzer console`: the web console against what `buzzer` discovered (here a fake context; with --stack, a deployed
 * stack and the operator's credentials), the bundle built first if stale, served until stopped, clients closed.
 */
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '#ops/cli/program.ts';
import { opsContext } from '../ops/helpers.ts';

describe('buzzer console', () => {
  it('serves the bundle and the API against the discovered target until stopped, then closes its clients', async () => {
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let out = '';
    const close = vi.fn();
    const running = runCli(['console', '--port', '0', '--client', 'alice', 'bob', '--quiet'], {
      discover: async () => ({ ...opsContext({}), close }),
      io: {
        out: (text) => {
          out += text;
        },
        err: () => {},
      },
      consoleStopped: () => stopped,
    });

    // A fresh clone has no bundle yet: the command builds it first (a few seconds).
    await vi.waitFor(() => expect(out).toMatch(/ on http:/), { timeout: 60_000, interval: 100 });
    const url = /on (http:\S+)/.exec(out)?.[1] ?? '';
    const page = await fetch(url);
    const config = await (await fetch(`${url}api/config`)).json();
    stop();

    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<buzzer-console>/);
    expect(config).toMatchObject({ stackName: 'Buzzer', kind: 'local', clients: ['alice', 'bob'] });
    expect(await running).toBe(0);
    expect(close).toHaveBeenCalledOnce();
  });
});
