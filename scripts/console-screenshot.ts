/**
 * `npx tsx scripts/console-screenshot.ts`: the README's pictures of the web console (docs/console.png, the orders page;
 * docs/console-dlqs.png, a filled DLQ peeked at), taken from a real run: a local Buzzer, a few orders placed through
 * the API (confirmed, declined, an unknown SKU), one mailed while the mail sink is broken so the notify DLQ holds it.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBuzzer } from '#local/buzzer/start.ts';
import { launchBrowser } from '#test/e2e/browser.ts';
import { ApiClient, orderBody, SandboxClient } from '#test/e2e/client.ts';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs');

const runtime = await startBuzzer({
  apiPort: 0,
  clients: ['demo'],
  consolePort: 0,
  functionLogs: false,
  // Notify retries in seconds (as the console's e2e test does), so the DLQ fills before the picture.
  environment: {
    RETRY_BACKOFF_BASE_SECONDS: '1',
    RETRY_BACKOFF_MAX_SECONDS: '2',
    MAIL_CIRCUIT_FAILURE_THRESHOLD: '1000',
  },
});
const browser = await launchBrowser({ width: 1180, height: 640 });
try {
  const { apiUrl, consoleUrl, sandboxUrl, apiKeys } = runtime.info;
  if (!apiUrl || !consoleUrl || !sandboxUrl) throw new Error('no API, console or sandbox');
  const api = new ApiClient(apiUrl, apiKeys.demo ?? '');
  const sandbox = new SandboxClient(sandboxUrl, runtime.sandboxAuth);
  const mailed = async (id: string) => {
    while ((await sandbox.mailFor(id)).body.messages.length === 0)
      await new Promise((resolve) => setTimeout(resolve, 250));
  };
  const place = async (overrides: Parameters<typeof orderBody>[0]) => {
    const id = (await api.placeOrder(orderBody(overrides))).body.trackingId;
    await api.waitForOrder(id);
    return id;
  };
  const earlier = [
    await place({}),
    await place({ paymentToken: 'tok_decline' }),
    await place({ items: [{ sku: `unknown-${randomUUID().slice(0, 4)}`, quantity: 1 }] }),
  ];
  // Only the last order's mail goes to the DLQ: the others' are sent before the mail sink breaks.
  for (const id of earlier) await mailed(id);
  await runtime.setSandboxFaults({ mailBroken: true });
  await place({ items: [{ sku: 'croissant', quantity: 3 }] });

  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await page.goto(`${consoleUrl}#/dlqs`);
  await page
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: 'notify', exact: true }) })
    .getByText('1 message', { exact: true })
    .waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Peek notify' }).click();
  await page.getByRole('table', { name: /personal data redacted/ }).waitFor();
  // One more poll of the depths, so the picture shows them after the peek released its messages.
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(DOCS, 'console-dlqs.png'), fullPage: true });

  await page.getByRole('navigation').getByRole('link', { name: 'Orders' }).click();
  await page.getByRole('cell', { name: 'CONFIRMED' }).first().waitFor();
  await page.screenshot({ path: path.join(DOCS, 'console.png') });
  process.stdout.write(`wrote ${path.join(DOCS, 'console.png')} and console-dlqs.png\n`);
} finally {
  await runtime.setSandboxFaults({}).catch(() => {});
  await browser.close();
  await runtime.stop();
}
