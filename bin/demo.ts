/**
 * `npm run demo`: a walkthrough against a running `npm start`. Places one order per interesting case, prints each
 * order's progress as its saga moves, and ends with a summary.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

interface Discovery {
  apiUrl?: string;
  apiKeys: Record<string, string>;
}

interface OrderView {
  trackingId: string;
  status: string;
  failureReason: string | null;
  paymentRef: string | null;
  timeline: Array<{ step: string; status: string; at: string }>;
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
const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

async function place(token: string): Promise<string> {
  const response = await fetch(`${discovery.apiUrl}/orders`, {
    method: 'POST',
    headers: { ...headers, 'idempotency-key': `demo-${randomUUID()}` },
    body: JSON.stringify({
      customer: { id: 'demo-customer', email: 'ada@example.com', name: 'Ada' },
      items: [
        { sku: 'flat-white', quantity: 1 },
        { sku: 'croissant', quantity: 2 },
      ],
      currency: 'EUR',
      paymentToken: token,
    }),
  });
  const body = (await response.json()) as { trackingId?: string };
  if (response.status !== 202 || !body.trackingId)
    throw new Error(`POST /orders answered ${response.status}`);
  return body.trackingId;
}

async function follow(
  label: string,
  trackingId: string,
  started: number,
): Promise<OrderView & { ms: number }> {
  let seen = 0;
  const deadline = started + Number(opts.timeout) * 1000;
  while (Date.now() < deadline) {
    const order = (await (
      await fetch(`${discovery.apiUrl}/orders/${trackingId}`, { headers })
    ).json()) as OrderView;
    for (const entry of order.timeline.slice(seen)) {
      process.stdout.write(
        `  ${label.padEnd(12)} ${trackingId.slice(0, 8)}  ${entry.step.padEnd(17)} ${entry.status}\n`,
      );
    }
    seen = order.timeline.length;
    if (order.status !== 'PENDING') return { ...order, ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${label} (${trackingId}) did not finish in ${opts.timeout} s`);
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
