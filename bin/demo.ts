/**
 * `npm run demo`: a walkthrough against a running `npm start`. Places one order per interesting case, prints each
 * order's progress as its saga moves, and ends with a summary.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createBuzzerClient, type OrderView } from '#client/index.ts';

interface Discovery {
  apiUrl?: string;
  apiKeys: Record<string, string>;
}

const CASES = [
  { token: 'tok_ok', what: 'payment authorized' },
  { token: 'tok_decline', what: 'card declined → compensations' },
  { token: 'tok_flaky', what: 'provider fails twice → retries → success' },
  { token: 'tok_timeout', what: 'provider never answers in time → retries run out → refund + cancel' },
] as const;

const program = new Command('npm run demo --')
  .description('Place a few orders against a running `npm start` and follow them to the end.')
  .option('--runtime-file <file>', 'discovery file written by npm start', '.buzzer/runtime.json')
  .option('--timeout <seconds>', 'give up on an order after this long', '60')
  .parse(process.argv.slice(2), { from: 'user' });
const opts = program.opts<{ runtimeFile: string; timeout: string }>();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const discovery = await readFile(path.resolve(root, opts.runtimeFile), 'utf8')
  .then((text) => JSON.parse(text) as Discovery)
  .catch(() => {
    process.stderr.write(`No running Buzzer found (${opts.runtimeFile}). Start it first: npm start\n`);
    process.exit(1);
  });
const apiKey = Object.values(discovery.apiKeys)[0];
if (!discovery.apiUrl || !apiKey) {
  process.stderr.write('The running Buzzer has no API URL or key.\n');
  process.exit(1);
}
const buzzer = createBuzzerClient(discovery.apiUrl, apiKey);

async function place(token: string): Promise<string> {
  const { data, response } = await buzzer.POST('/orders', {
    params: { header: { 'Idempotency-Key': `demo-${randomUUID()}` } },
    body: {
      customer: { id: 'demo-customer', email: 'ada@example.com', name: 'Ada' },
      items: [
        { sku: 'flat-white', quantity: 1 },
        { sku: 'croissant', quantity: 2 },
      ],
      currency: 'EUR',
      paymentToken: token,
    },
  });
  if (response.status !== 202 || !data) throw new Error(`POST /orders answered ${response.status}`);
  return data.trackingId;
}

async function follow(
  label: string,
  trackingId: string,
  started: number,
): Promise<OrderView & { ms: number }> {
  let seen = 0;
  // Polls every 200 ms so each step shows as it happens; the typed client gives up at the timeout.
  const order = await buzzer.waitForTerminal(trackingId, {
    timeoutMs: started + Number(opts.timeout) * 1000 - Date.now(),
    initialDelayMs: 200,
    maxDelayMs: 200,
    onProgress: (progress) => {
      for (const entry of progress.timeline.slice(seen)) {
        process.stdout.write(
          `  ${label.padEnd(12)} ${trackingId.slice(0, 8)}  ${entry.step.padEnd(17)} ${entry.status}\n`,
        );
      }
      seen = progress.timeline.length;
    },
  });
  return { ...order, ms: Date.now() - started };
}

process.stdout.write(`Placing ${CASES.length} orders at ${discovery.apiUrl}\n\n`);
const results = await Promise.all(
  CASES.map(async ({ token, what }) => {
    const started = Date.now();
    const trackingId = await place(token);
    process.stdout.write(`  ${token.padEnd(12)} ${trackingId.slice(0, 8)}  202 Accepted      (${what})\n`);
    return { token, ...(await follow(token, trackingId, started)) };
  }),
);

process.stdout.write('\nSummary\n');
process.stdout.write(
  `  ${'token'.padEnd(12)} ${'tracking id'.padEnd(37)} ${'status'.padEnd(10)} ${'reason'.padEnd(28)} time\n`,
);
for (const r of results) {
  process.stdout.write(
    `  ${r.token.padEnd(12)} ${r.trackingId.padEnd(37)} ${r.status.padEnd(10)} ${(r.failureReason ?? r.paymentRef ?? '').padEnd(28)} ${(r.ms / 1000).toFixed(1)} s\n`,
  );
}
