/**
 * The web console in a real browser (Debian's Chromium through playwright-core, test/e2e/browser.ts), each page
 * asserted through what a person (or a screen reader) finds in it: roles, names, labels.
 *
 * - Orders and an order's story: an order placed through the API appears and reaches CONFIRMED without a reload; its
 *   story (opened from the keyboard) shows the saga's steps, the published outbox events and the mail worker's effect.
 * - Dead-letter queues: with the sandbox's mail sink broken the notify DLQ fills in the page; Redrive empties it.
 * - Failed sagas: an execution stopped half-way shows with its PENDING order; Redrive finishes the order.
 * - Webhooks: an endpoint that answered 410 shows DISABLED with its failed attempt; Enable and replay delivers it.
 * - Outbox relay: an item the relay gave up on shows FAILED; Replay publishes it, done with the keyboard alone.
 * - Every page: each control and table has an accessible name (Chromium's own accessibility tree).
 *
 * One runtime for the file, with time compressed: notify retries back off 1 s, Step Functions retries 200 ms.
 * Local target only (vitest.config.ts): it breaks the local sandbox's mail sink, stops executions and writes outbox
 * items behind the API's back. On failure, screenshots of the main pages are written to test-results/console/
 * (gitignored; README, "Console").
 */
import { mkdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { executionArnFor } from '#functions/operations/recovery.ts';
import { clientsForRuntime, contextFor, type OpsContext, targetFromRuntime } from '#ops/cli/context.ts';
import { type Browser, launchBrowser } from './browser.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { insertPendingOrder } from './insert-order.ts';
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
let ops: OpsContext;
const servers: Server[] = [];

/** The table row whose header cell is `name` (an order id, a queue alias). */
const row = (name: string) =>
  page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

/** Whether the element `locator` finds has the keyboard focus. */
const focused = (locator: Locator) =>
  locator.evaluate((element) => element.ownerDocument.activeElement === element);

/** A table found by its caption. */
const table = (caption: RegExp) => page.getByRole('table', { name: caption });

/**
 * Controls, tables and images without an accessible name, as Chromium computes names (its ARIA snapshot lists a
 * nameless node by its role alone): a button with only an icon, an input without a label, a table without a caption.
 */
async function unnamed(): Promise<string[]> {
  const snapshot = await page.locator('body').ariaSnapshot();
  return snapshot
    .split('\n')
    .filter((line) =>
      /^\s*- (button|link|textbox|combobox|checkbox|radio|searchbox|spinbutton|table|img)\b(?!\s+")/.test(
        line,
      ),
    );
}

/** The page as it is now passes the accessibility basics. */
async function expectAccessible(where: string): Promise<void> {
  expect(await unnamed(), `nameless controls on ${where}`).toEqual([]);
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
}

/** A webhook receiver on 127.0.0.1 that answers `status()` to every delivery. */
async function receiver(status: () => number): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status()).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
}

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
    // The webhooks page's endpoint is a receiver on 127.0.0.1.
    allowLoopbackWebhooks: true,
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
  const runtime = target.runtime;
  if (!runtime) throw new Error('the local target has no runtime');
  const runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
  ops = contextFor(targetFromRuntime(runtimeFile), clientsForRuntime(runtimeFile));
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(async () => {
  await sandbox?.setFaults({ mailBroken: false });
  for (const server of servers) server.close();
  ops?.close();
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
    await expectAccessible('the orders page');

    // The order's story, opened from the keyboard.
    await page.getByRole('link', { name: first, exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Order ${first}`, level: 2 }).waitFor(SEEN);
    await table(/Step Functions executions/)
      .getByText('SUCCEEDED', { exact: true })
      .waitFor(SEEN);
    const story = page.getByRole('main');
    for (const step of ['Accepted', 'ReserveStock', 'AuthorizePayment', 'ConfirmOrder'])
      await story.getByRole('listitem').filter({ hasText: step }).first().waitFor(SEEN);
    expect(
      await table(/Everything that happened/)
        .getByRole('row')
        .count(),
    ).toBeGreaterThan(2);
    for (const event of ['OrderPlaced', 'OrderConfirmed'])
      await table(/Events the order wrote/)
        .getByRole('row')
        .filter({ has: page.getByRole('rowheader', { name: event, exact: true }) })
        .getByText('PUBLISHED', { exact: true })
        .waitFor(SEEN);

    // The story goes on after CONFIRMED: the mail worker's effect shows up in the page. Only then break the mail
    // sink, so this order's mail is not caught by it.
    await page
      .getByRole('table', { name: /idempotent consumers/ })
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'notify', exact: true }) })
      .getByText('DONE', { exact: true })
      .waitFor(SEEN);
    await expectAccessible('the order page');
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
    await expectAccessible('the DLQ page');

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

  it('shows a saga stopped half-way among the failed ones, with its PENDING order, and Redrive finishes it', async () => {
    onTestFailed(screenshots, 30_000);
    // The payment takes a second (tok_slow): time to stop the execution after ReserveStock, as an operator might.
    const orderId = (await alice.placeOrder(orderBody({ paymentToken: 'tok_slow' }))).body.trackingId;
    const name = `order-${orderId}`;
    const executionArn = executionArnFor(ops.target.stateMachineArn, name);
    await alice.waitForOrder(orderId, (o) => o.timeline.some((t) => t.step === 'ReserveStock'));
    await ops.clients.sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'test' }));
    await expect
      .poll(async () => (await ops.clients.sfn.send(new DescribeExecutionCommand({ executionArn }))).status)
      .toBe('ABORTED');

    await page.getByRole('navigation').getByRole('link', { name: 'Failed sagas' }).click();
    await page.getByRole('heading', { name: 'Failed sagas', level: 2 }).waitFor();
    const failed = table(/failed in the last 24 hours/);
    const execution = failed
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name, exact: true }) });
    await execution.getByText('ABORTED', { exact: true }).waitFor(SEEN);
    await execution.getByText('PENDING', { exact: true }).waitFor(SEEN);
    await expect.poll(() => execution.getByRole('link', { name: orderId, exact: true }).count()).toBe(1);
    await expectAccessible('the failed sagas page');

    await page.getByRole('button', { name: `Redrive ${name}` }).click();
    await page
      .getByRole('status')
      .getByText(new RegExp(`Order ${orderId}: redriven`))
      .waitFor(SEEN);
    // Redriven in place, the execution is no longer a failed one: its row goes, without a reload.
    await execution.waitFor({ ...SEEN, state: 'detached' });
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
  });

  it('shows a webhook endpoint disabled by a 410 with its failed attempt, and replays it to the mended receiver', async () => {
    onTestFailed(screenshots, 30_000);
    let answer = 410;
    const url = await receiver(() => answer);
    const created = await alice.api.POST('/webhooks', { body: { url, events: ['OrderPlaced'] } });
    expect(created.response.status).toBe(201);
    const orderId = (await alice.placeOrder(orderBody())).body.trackingId;

    await page.getByRole('navigation').getByRole('link', { name: 'Webhooks' }).click();
    expect(await page.getByLabel('Client').inputValue()).toBe('alice');
    // The console shows an endpoint's URL with its path redacted (it may carry a token): found by its origin.
    const origin = new URL(url).origin;
    const endpoint = page.getByRole('region', { name: new RegExp(`^${origin.replace(/[.]/g, '\\.')}/`) });
    await endpoint.getByRole('heading', { name: /DISABLED$/ }).waitFor(SEEN);
    const attempts = endpoint.getByRole('table', { name: /Latest delivery attempts/ });
    const attempt = (outcome: string) =>
      attempts
        .getByRole('row')
        .filter({ has: page.getByRole('link', { name: orderId, exact: true }) })
        .filter({ hasText: outcome });
    await attempt('failed 410').waitFor(SEEN);
    await expect.poll(() => endpoint.getByText(/1 FAILED deliveries/).count(), SEEN).toBe(1);
    await expectAccessible('the webhooks page');

    answer = 200;
    await endpoint.getByRole('button', { name: /^Replay the FAILED deliveries of / }).click();
    await page
      .getByRole('status')
      .getByText(/enabled; 1 FAILED deliveries queued again/)
      .waitFor(SEEN);
    await endpoint.getByRole('heading', { name: /ENABLED$/ }).waitFor(SEEN);
    await attempt('succeeded 200').waitFor(SEEN);
  });

  it('shows an outbox item the relay gave up on, and replays it with the keyboard alone', async () => {
    onTestFailed(screenshots, 30_000);
    const orderId = await insertPendingOrder(
      { doc: ops.clients.doc, tableName: ops.target.tableName },
      'alice',
      new Date(),
      'FAILED',
    );
    // A fresh load, so the keyboard starts at the top of the page.
    await page.goto(`${consoleUrl}#/orders`);
    await page.reload();
    await page.getByRole('heading', { name: 'Orders', level: 2 }).waitFor();

    // Tab to the page's link, as a keyboard user does: the skip link and the four pages before it come first.
    const outboxLink = page.getByRole('navigation').getByRole('link', { name: 'Outbox relay' });
    for (let i = 0; i < 6 && !(await focused(outboxLink)); i++) await page.keyboard.press('Tab');
    expect(await focused(outboxLink)).toBe(true);
    await page.keyboard.press('Enter');
    // The new page takes the focus at its heading.
    const heading = page.getByRole('heading', { name: 'Outbox relay', level: 2 });
    await expect.poll(() => focused(heading)).toBe(true);

    const item = table(/Outbox items the relay gave up on/)
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: orderId, exact: true }) });
    await item.getByRole('rowheader', { name: 'OrderPlaced', exact: true }).waitFor(SEEN);
    await item.getByText('FAILED', { exact: true }).waitFor(SEEN);
    await item.getByText('injected by the test').waitFor(SEEN);
    await expectAccessible('the outbox page');

    // The next stop after the heading is the page's action.
    await page.keyboard.press('Tab');
    const replay = page.getByRole('button', { name: 'Replay items the relay gave up on' });
    expect(await focused(replay)).toBe(true);
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .getByText(/Published [1-9]\d* item\(s\) again/)
      .waitFor(SEEN);
    await item.waitFor({ ...SEEN, state: 'detached' });
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
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
