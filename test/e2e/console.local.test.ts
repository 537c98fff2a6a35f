/**
 * The web console in a real browser (Debian's Chromium through playwright-core, test/e2e/browser.ts): an order placed
 * through the API appears and reaches CONFIRMED in the page without a reload; with the sandbox's mail sink broken the
 * notify DLQ fills in the page; the page's Redrive button empties it and the mail arrives.
 *
 * Local target only (vitest.config.ts): it breaks the local sandbox's mail sink and compresses the notify retries.
 * On failure, screenshots of the main pages are written to test-results/console/ (gitignored; README, "Console").
 */
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Browser, launchBrowser } from './browser.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { startTarget, type Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-results', 'console');
/** What a person waits for in the page: the console polls every 1.5-2 s. */
const SEEN = { timeout: 30_000 };

let target: Target;
let browser: Browser;
let page: Page;
let consoleUrl: string;
let alice: ApiClient;
let sandbox: SandboxClient;

/** The table row whose header cell is `name` (an order id, a queue alias). */
const row = (name: string) =>
  page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

/** Screenshots of the main pages, for the person reading a failed run. */
async function screenshots(): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'at-failure.png'), fullPage: true });
  for (const name of ['orders', 'dlqs', 'sagas', 'webhooks', 'outbox']) {
    await page.goto(`${consoleUrl}#/${name}`);
    await page.waitForTimeout(2000);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

beforeAll(async () => {
  target = await startTarget({
    clients: ['alice'],
    console: true,
    // Notify retries back off 1 s instead of 30 s-15 min, so the five receives before the DLQ take seconds; a mail
    // circuit that never opens lets the failures reach the DLQ (an open one would hold the mail instead).
    environment: {
      RETRY_BACKOFF_BASE_SECONDS: '1',
      RETRY_BACKOFF_MAX_SECONDS: '1',
      MAIL_CIRCUIT_FAILURE_THRESHOLD: '1000',
    },
  });
  if (!target.consoleUrl) throw new Error('the runtime served no console');
  consoleUrl = target.consoleUrl;
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(async () => {
  await sandbox?.setFaults({ mailBroken: false });
  await browser?.close();
  await target?.stop();
});

describe('the web console', () => {
  it('shows an order reach CONFIRMED, the notify DLQ fill while the mail sink is down, and empties it with Redrive', async () => {
    onTestFailed(screenshots, 30_000);
    await page.goto(`${consoleUrl}#/orders`);
    await page.getByRole('heading', { name: 'Orders', level: 2 }).waitFor();
    expect(await page.getByLabel('Client').inputValue()).toBe('alice');

    // Placed after the page loaded: it appears and moves on without a reload.
    const first = (await alice.placeOrder(orderBody())).body.trackingId;
    await row(first).getByText('CONFIRMED', { exact: true }).waitFor(SEEN);
    await row(first).getByRole('listitem').filter({ hasText: 'ConfirmOrder' }).waitFor(SEEN);

    // The order's story, opened from the keyboard.
    await page.getByRole('link', { name: first, exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Order ${first}`, level: 2 }).waitFor(SEEN);
    await page
      .getByRole('table', { name: /Step Functions executions/ })
      .getByText('SUCCEEDED', { exact: true })
      .waitFor(SEEN);

    // The story goes on after CONFIRMED: the mail worker's effect shows up in the page. Only then break the mail
    // sink, so this order's mail is not caught by it.
    await page
      .getByRole('table', { name: /idempotent consumers/ })
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'notify', exact: true }) })
      .getByText('DONE', { exact: true })
      .waitFor(SEEN);
    await sandbox.setFaults({ mailBroken: true });
    const second = (await alice.placeOrder(orderBody())).body.trackingId;
    expect((await alice.waitForOrder(second)).status).toBe('CONFIRMED');

    await page.getByRole('navigation').getByRole('link', { name: 'Dead-letter queues' }).click();
    await row('notify').getByText('1 message', { exact: true }).waitFor(SEEN);
    await page.getByRole('button', { name: 'Peek notify' }).click();
    await page
      .getByRole('table', { name: /personal data redacted/ })
      .getByRole('link', { name: second, exact: true })
      .waitFor(SEEN);

    await sandbox.setFaults({ mailBroken: false });
    // From the keyboard, as the order above.
    await page.getByRole('button', { name: 'Redrive notify' }).focus();
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .getByText(/Moved 1 message from the notify DLQ/)
      .waitFor(SEEN);
    await row('notify').getByText('0 messages', { exact: true }).waitFor(SEEN);
    await expect
      .poll(async () => (await sandbox.mailFor(second)).body.messages.length, SEEN)
      .toBeGreaterThanOrEqual(1);
  });

  it('refuses operator actions from another origin, another host name, or a form', async () => {
    // node:http, since fetch decides the Host header itself.
    const call = (method: string, route: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${consoleUrl}api/${route}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
        });
        req.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    const redrive = (headers: Record<string, string>) => call('POST', 'dlqs/notify/redrive', headers);
    expect(await redrive({ origin: 'https://evil.example' })).toBe(403);
    expect(await redrive({ host: 'evil.example' })).toBe(403);
    expect(await redrive({ 'content-type': 'application/x-www-form-urlencoded' })).toBe(403);
    // The console's own page is let through.
    expect(await call('GET', 'config', { origin: consoleUrl.replace(/\/$/, '') })).toBe(200);
  });
});
